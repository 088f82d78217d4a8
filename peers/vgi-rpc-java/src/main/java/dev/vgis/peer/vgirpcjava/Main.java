package dev.vgis.peer.vgirpcjava;

import dev.vgis.peersdk.Adapter;
import dev.vgis.peersdk.Kind;
import dev.vgis.peersdk.PeerError;
import dev.vgis.peersdk.PeerMain;
import dev.vgis.peersdk.Results;
import farm.query.vgirpc.shm.FfmShm;
import farm.query.vgirpc.shm.Shm;
import farm.query.vgirpc.shm.ShmFactory;
import java.io.IOException;
import java.util.List;
import java.util.Set;

/**
 * The vgi-rpc-java peer: the peer SDK ({@code dev.vgis.peersdk}) over the
 * port's {@code farm.query.vgirpc.shm} package (v0.22.0, JDK >= 22 overlay).
 *
 * <ul>
 *   <li>{@code create} is {@link FfmShm#create} (the port's test/owner path; in
 *       production Java only attaches), under the requested name.</li>
 *   <li>{@code attach} is {@link ShmFactory#attach}, the port's production entry
 *       point; an attach without an advertised size passes 0 (the port then maps
 *       {@code max(0, HEADER_SIZE)} and re-maps to what data_size says).</li>
 *   <li>Everything else is in {@link Segment}.</li>
 * </ul>
 *
 * <p>The port throws plain {@code IOException}s, {@code IllegalStateException}s
 * and {@code IllegalArgumentException}s; {@link #classify} maps them to the
 * protocol's error kinds by type, message and operation.</p>
 */
public final class Main implements Adapter {
    /** Identical to peer.toml. No shrink, reset, make_pointer, advertise: the port has none of them. */
    static final List<String> CAPABILITIES = List.of("allocate", "read", "maybe_write", "named_create");

    /** The port's size gate: VGI_RPC_SHM_MIN_BATCH_BYTES, else 128 KiB on POSIX (ShmResolver.SHM_MIN_BATCH_BYTES). */
    private static final String GATE_ENV = "VGI_RPC_SHM_MIN_BATCH_BYTES";
    private static final long POSIX_DEFAULT_GATE = 128L * 1024L;

    private static final Set<String> DECODING_OPS = Set.of("resolve", "read");

    public static void main(String[] args) {
        PeerMain.run(new Main());
    }

    @Override
    public String name() {
        return "vgi-rpc-java";
    }

    @Override
    public String version() {
        return System.getProperty("vgis.upstream.version", "unknown");
    }

    @Override
    public List<String> capabilities() {
        return CAPABILITIES;
    }

    @Override
    public Long minBatchBytes() {
        String env = System.getenv(GATE_ENV);
        if (env != null) {
            try {
                return Long.parseLong(env.trim());
            } catch (NumberFormatException ignore) {
                // the port falls back to its default too
            }
        }
        return POSIX_DEFAULT_GATE;
    }

    @Override
    public Results.Opened create(String name, long size) throws Exception {
        FfmShm shm = FfmShm.create(name, size);
        return new Results.Opened(new Segment(shm, true), shm.name(), shm.size());
    }

    @Override
    public Results.Opened attach(String name, Long size) throws Exception {
        if (!ShmFactory.available()) {
            throw new PeerError(Kind.INTERNAL, "ShmFactory.available() is false: no FFM shared memory on this JVM");
        }
        Shm shm = ShmFactory.attach(name, size == null ? 0L : size);
        return new Results.Opened(new Segment(shm, false), shm.name(), shm.size());
    }

    @Override
    public PeerError classify(String op, Throwable t) {
        String text = t.getClass().getSimpleName() + ": " + t.getMessage();
        String m = String.valueOf(t.getMessage());
        if (t instanceof IllegalStateException && m.contains("corrupt header")) {
            return new PeerError(Kind.BAD_HEADER, "[ALLOC-8] " + text, t);
        }
        switch (op) {
            case "create" -> {
                if (t instanceof IllegalArgumentException) {
                    return new PeerError(Kind.BAD_REQUEST, "[LIFE-1] " + text, t);
                }
                if (t instanceof IOException && m.startsWith("shm_open(")) {
                    return new PeerError(Kind.BAD_NAME, text, t);
                }
            }
            case "attach" -> {
                if (t instanceof IOException && m.startsWith("shm_open(")) {
                    return new PeerError(Kind.BAD_NAME, "[LIFE-9] " + text, t);
                }
                if (t instanceof IOException && (m.startsWith("bad SHM magic") || m.startsWith("unsupported SHM version"))) {
                    return new PeerError(Kind.BAD_HEADER, "[LIFE-4/5] " + text, t);
                }
            }
            case "allocate" -> {
                if (t instanceof IllegalArgumentException) {
                    return new PeerError(Kind.BAD_REQUEST, "[ALLOC-4] " + text, t);
                }
            }
            default -> {
                if (DECODING_OPS.contains(op)) {
                    if (t instanceof NumberFormatException) {
                        return new PeerError(Kind.BAD_POINTER, "[PTR-8] Long.parseLong of the pointer metadata: " + text, t);
                    }
                    if (t instanceof IOException && m.startsWith("shm pointer out of range")) {
                        return new PeerError(Kind.OUT_OF_BOUNDS, "[PTR-9] " + text, t);
                    }
                    if (t instanceof UnsupportedOperationException) {
                        // raised after decoding, by ShmResolver.copyRoot's getTransferPair: not the region's fault
                        return null;
                    }
                    if (t instanceof IOException || t instanceof RuntimeException) {
                        // past the bounds check, what ShmResolver.resolveCopy raises comes from decoding the region
                        return new PeerError(Kind.IPC_ERROR, "[PTR-10] " + text, t);
                    }
                }
            }
        }
        return null;
    }
}
