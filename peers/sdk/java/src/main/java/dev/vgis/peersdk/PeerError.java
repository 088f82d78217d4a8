package dev.vgis.peersdk;

/**
 * An error response: {@code {"ok": false, "error": {"kind", "message"}}}.
 * Thrown by the SDK for malformed requests and by an adapter (usually from
 * {@link Adapter#classify}) for a failure of the implementation it wraps.
 */
public final class PeerError extends Exception {
    private static final long serialVersionUID = 1L;

    private final Kind kind;

    public PeerError(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public PeerError(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    public static PeerError badRequest(String message) {
        return new PeerError(Kind.BAD_REQUEST, message);
    }

    public static PeerError unsupported(String op) {
        return new PeerError(Kind.UNSUPPORTED, "operation " + op + " is not implemented (its capability is not declared)");
    }
}
