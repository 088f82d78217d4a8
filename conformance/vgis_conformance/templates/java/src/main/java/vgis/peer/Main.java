package vgis.peer;

import dev.vgis.peersdk.Adapter;
import dev.vgis.peersdk.Batch;
import dev.vgis.peersdk.Kind;
import dev.vgis.peersdk.PeerError;
import dev.vgis.peersdk.PeerMain;
import dev.vgis.peersdk.Results;
import dev.vgis.peersdk.Segment;
import java.util.List;
import java.util.Map;

/**
 * A VGIS peer over the kit's Java peer SDK ({@code dev.vgis.peersdk}, peers/sdk/java in the kit): the SDK
 * runs the JSON-lines loop (docs/peer-protocol.md) over Jackson, reads the arguments (u64 values exact, as
 * {@code long}s carrying the same 64 bits), reads and writes the batch and schema files with Arrow Java,
 * keeps the segment handles, answers every exception with {@code internal} (or what {@link #classify}
 * says) and closes and unlinks on shutdown. You implement {@link Adapter} and {@link Segment}.
 *
 * <p>It answers hello and shutdown; every other op is "unsupported" until you implement it: {@link #create}
 * and {@link #attach} first, then the methods of {@link Shm}, then the optional ones (each a default method
 * of {@link Segment} behind the capability of its name, declared in {@link #capabilities} and peer.toml).
 * Logs go to stderr: the SDK points {@code System.out} there, stdout carries responses only.
 */
public final class Main implements Adapter {
    public static void main(String[] args) {
        PeerMain.run(new Main());
    }

    @Override
    public String name() {
        return "@PEER_NAME@";
    }

    @Override
    public String version() {
        return "0.1.0";
    }

    /** Must equal peer.toml's list. */
    @Override
    public List<String> capabilities() {
        return List.of();
    }

    @Override
    public Results.Opened create(String name, long size) throws Exception {
        throw notYet("create");
    }

    @Override
    public Results.Opened attach(String name, Long size) throws Exception {
        throw notYet("attach");
    }

    /** Map your library's exceptions to the protocol's error kinds; {@code null} answers {@code internal}. */
    @Override
    public PeerError classify(String op, Throwable failure) {
        return null;
    }

    /** The answer of an op until it is implemented. */
    static PeerError notYet(String op) {
        return new PeerError(Kind.UNSUPPORTED, op + " is not implemented yet");
    }

    /** One segment of your library; create and attach return it in a {@link Results.Opened}. */
    static final class Shm implements Segment {
        @Override
        public void close() throws Exception {
            throw notYet("close");
        }

        @Override
        public void unlink() throws Exception {
            throw notYet("unlink");
        }

        @Override
        public byte[] header(int length) throws Exception {
            throw notYet("header");
        }

        @Override
        public Results.Placed write(Batch batch) throws Exception {
            throw notYet("write");
        }

        @Override
        public Results.Resolution resolve(Batch pointer, Map<String, String> metadata) throws Exception {
            throw notYet("resolve");
        }
    }
}
