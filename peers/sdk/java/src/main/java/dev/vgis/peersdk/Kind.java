package dev.vgis.peersdk;

/** The protocol's error kinds (docs/peer-protocol.md, "Error kinds"). */
public enum Kind {
    BAD_HEADER("bad_header"),
    BAD_NAME("bad_name"),
    OUT_OF_BOUNDS("out_of_bounds"),
    BAD_POINTER("bad_pointer"),
    NO_ALLOCATION("no_allocation"),
    IPC_ERROR("ipc_error"),
    SCHEMA_MISMATCH("schema_mismatch"),
    BAD_REQUEST("bad_request"),
    UNSUPPORTED("unsupported"),
    INTERNAL("internal");

    private final String wire;

    Kind(String wire) {
        this.wire = wire;
    }

    /** The kind as it travels in {@code error.kind}. */
    public String wire() {
        return wire;
    }
}
