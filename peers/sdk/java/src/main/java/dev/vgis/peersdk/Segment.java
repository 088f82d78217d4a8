package dev.vgis.peersdk;

import java.util.List;
import java.util.Map;

/**
 * One segment an adapter holds, created or attached. The required operations
 * are abstract; each optional one defaults to {@code unsupported} and is
 * implemented exactly when the adapter declares its capability.
 *
 * <p>Offsets, sizes and lengths are u64 on the wire; they arrive here as
 * {@code long}s carrying the same 64 bits (values of 2^63 and more are
 * negative, as {@link Long#parseUnsignedLong} gives them).</p>
 */
public interface Segment {
    /** {@code close}: unmap. Never unlinks (the SDK calls {@link #unlink} for that). */
    void close() throws Exception;

    /** {@code unlink}: remove the OS object. Only called for a segment this peer created. */
    void unlink() throws Exception;

    /** {@code header}: the first {@code length} bytes as the implementation sees them. */
    byte[] header(int length) throws Exception;

    /** {@code write}: the implementation's own write path; {@code null} when the batch does not fit. */
    Results.Placed write(Batch batch) throws Exception;

    /** {@code resolve}: resolve a pointer batch (or return a non-pointer unchanged). Never frees. */
    Results.Resolution resolve(Batch pointer, Map<String, String> metadata) throws Exception;

    /** {@code allocate}: the new entry's offset, or {@code null} when it does not fit. */
    default Long allocate(long size) throws Exception {
        throw PeerError.unsupported("allocate");
    }

    /** {@code free}. */
    default void free(long offset) throws Exception {
        throw PeerError.unsupported("free");
    }

    /** {@code allocations}: the entries {@code [offset, length]} as the implementation reads them. */
    default List<long[]> allocations() throws Exception {
        throw PeerError.unsupported("allocations");
    }

    /** {@code shrink}. */
    default void shrink(long offset, long length) throws Exception {
        throw PeerError.unsupported("shrink");
    }

    /** {@code reset}. */
    default void reset() throws Exception {
        throw PeerError.unsupported("reset");
    }

    /** {@code read}: decode the region {@code (offset, length)} under {@code schema} (a zero-row batch of it). */
    default Results.Read read(long offset, long length, Batch schema) throws Exception {
        throw PeerError.unsupported("read");
    }

    /** {@code maybe_write}. */
    default Results.MaybeWritten maybeWrite(Batch batch, Map<String, String> metadata) throws Exception {
        throw PeerError.unsupported("maybe_write");
    }

    /** {@code advertise}: the request metadata that advertises this segment (ADV-1). */
    default Map<String, String> advertise() throws Exception {
        throw PeerError.unsupported("advertise");
    }
}
