package dev.vgis.peer.vgirpcjava;

import dev.vgis.peersdk.Batch;
import dev.vgis.peersdk.PeerError;
import dev.vgis.peersdk.Results;
import farm.query.vgirpc.shm.Shm;
import farm.query.vgirpc.shm.ShmResolver;
import farm.query.vgirpc.wire.Metadata;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One segment, over the port's {@link Shm} (an {@code FfmShm}).
 *
 * <ul>
 *   <li>{@code close} is {@link Shm#close}. For a segment this peer created, the
 *       port's {@code FfmShm.close} also unlinks it: the port has no other unlink.
 *       {@code unlink} is therefore that same close, or nothing once closed.</li>
 *   <li>{@code header} is {@link Shm#readAt}{@code (0, length)}, the port's own view.</li>
 *   <li>{@code write} and {@code maybe_write} are {@link ShmResolver#maybeWriteToShm},
 *       the port's only write path (the launcher sets its size gate to 0, as the
 *       port's own FFM tests do, so that {@code write} is not gated).</li>
 *   <li>{@code resolve} is {@link ShmResolver#isPointer} then {@link ShmResolver#resolve},
 *       as the port's RpcServer calls them; {@code read} is {@code resolve} of a pointer
 *       to the region. The port frees the region inside {@code resolve}; the protocol
 *       frees separately, so {@code resolve} is handed a {@link Deferred} view of the
 *       segment whose {@code free} records the offset (reported as
 *       {@code release_offset}) instead of freeing.</li>
 *   <li>{@code allocate} and {@code free} are {@link Shm#allocate} and {@link Shm#free};
 *       "segment full" / "table full" is "does not fit". The port's table reader
 *       ({@code MappedShm.readAllocs}) is private, so {@code allocations} is not
 *       declared and answers {@code unsupported}.</li>
 * </ul>
 */
final class Segment implements dev.vgis.peersdk.Segment {
    private final Shm shm;
    private final boolean owner;
    private boolean closed;

    Segment(Shm shm, boolean owner) {
        this.shm = shm;
        this.owner = owner;
    }

    @Override
    public void close() {
        closed = true;
        shm.close();
    }

    @Override
    public void unlink() {
        if (owner && !closed) {
            close();
        }
    }

    @Override
    public byte[] header(int length) {
        return shm.readAt(0, length);
    }

    @Override
    public Results.Placed write(Batch batch) throws Exception {
        if (batch.rows() == 0) {
            throw PeerError.badRequest("[WRITE-4] zero-row batch: ShmResolver.maybeWriteToShm never writes one");
        }
        ShmResolver.ShmPointer p = ShmResolver.maybeWriteToShm(shm, batch.root(), null);
        if (p == null) {
            return null;
        }
        p.root().close();
        return new Results.Placed(Long.parseLong(p.customMetadata().get(Metadata.SHM_OFFSET)),
                Long.parseLong(p.customMetadata().get(Metadata.SHM_LENGTH)));
    }

    @Override
    public Results.MaybeWritten maybeWrite(Batch batch, Map<String, String> metadata) {
        ShmResolver.ShmPointer p = ShmResolver.maybeWriteToShm(shm, batch.root(), metadata);
        if (p == null) {
            return new Results.MaybeWritten(batch, metadata, false, Results.NOTHING);
        }
        return new Results.MaybeWritten(Batch.of(p.root()), p.customMetadata(), true, p.root()::close);
    }

    @Override
    public Results.Resolution resolve(Batch pointer, Map<String, String> metadata) throws Exception {
        if (!ShmResolver.isPointer(pointer.rows(), metadata)) {
            return new Results.Resolution(pointer, metadata, false, null, Results.NOTHING);
        }
        Deferred view = new Deferred(shm);
        ShmResolver.Resolved res = ShmResolver.resolve(view, pointer.root(), metadata);
        return new Results.Resolution(Batch.of(res.root()), res.customMetadata(), true, view.freed, res.root()::close);
    }

    @Override
    public Results.Read read(long offset, long length, Batch schema) throws Exception {
        Map<String, String> md = new LinkedHashMap<>();
        md.put(Metadata.SHM_OFFSET, Long.toUnsignedString(offset));
        md.put(Metadata.SHM_LENGTH, Long.toUnsignedString(length));
        ShmResolver.Resolved res = ShmResolver.resolve(new Deferred(shm), schema.root(), md);
        return new Results.Read(Batch.of(res.root()), res.root()::close);
    }

    @Override
    public Long allocate(long size) {
        try {
            return shm.allocate(size);
        } catch (IllegalStateException e) {
            String m = String.valueOf(e.getMessage());
            if (m.startsWith("ShmSegment full") || m.startsWith("ShmSegment allocation table full")) {
                return null;
            }
            throw e;
        }
    }

    @Override
    public void free(long offset) {
        shm.free(offset);
    }

    /** The segment as ShmResolver.resolve sees it, except that free records the offset instead of freeing. */
    private static final class Deferred extends Shm {
        private final Shm real;
        Long freed;

        Deferred(Shm real) {
            this.real = real;
        }

        @Override public String name() { return real.name(); }
        @Override public long size() { return real.size(); }
        @Override public long addressAt(long offset) { return real.addressAt(offset); }
        @Override public long allocate(long length) { return real.allocate(length); }
        @Override public void free(long offset) { freed = offset; }
        @Override public void writeAt(long offset, byte[] data) { real.writeAt(offset, data); }
        @Override public byte[] readAt(long offset, long length) { return real.readAt(offset, length); }
        @Override public farm.query.vgirpc.shm.ShmWriteChannel writeChannelAt(long offset, long capacity) {
            return real.writeChannelAt(offset, capacity);
        }
        @Override public java.nio.channels.ReadableByteChannel readChannelAt(long offset, long length) {
            return real.readChannelAt(offset, length);
        }
        @Override public void close() { }
    }
}
