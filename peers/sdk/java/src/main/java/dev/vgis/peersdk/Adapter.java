package dev.vgis.peersdk;

import java.util.List;

/**
 * What a peer's adapter implements: the description of the implementation it
 * wraps, create/attach, and the mapping of the implementation's exceptions to
 * the protocol's error kinds. Everything else (the JSON-lines loop, handles,
 * files, hex, error responses) is the SDK's ({@link PeerMain}).
 */
public interface Adapter {
    /** {@code hello}'s {@code name}. */
    String name();

    /** {@code hello}'s {@code version}: the wrapped implementation's version. */
    String version();

    /** {@code hello}'s {@code capabilities}; must equal the manifest's list. */
    List<String> capabilities();

    /** {@code hello}'s {@code min_batch_bytes} (WRITE-5), or {@code null} to leave it out. */
    default Long minBatchBytes() {
        return null;
    }

    /** {@code create}. */
    Results.Opened create(String name, long size) throws Exception;

    /** {@code attach}; {@code size} is the advertised size or {@code null}. */
    Results.Opened attach(String name, Long size) throws Exception;

    /**
     * Map a failure of the wrapped implementation, raised while answering
     * {@code op}, to an error response. Return {@code null} to let the SDK
     * answer {@code internal} with the exception's class and message.
     */
    PeerError classify(String op, Throwable failure);

    /** {@code make_pointer}: a zero-row pointer batch of {@code schema} to {@code (offset, length)}. */
    default Results.Pointer makePointer(Batch schema, long offset, long length) throws Exception {
        throw PeerError.unsupported("make_pointer");
    }
}
