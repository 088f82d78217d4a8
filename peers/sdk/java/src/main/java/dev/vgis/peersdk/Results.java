package dev.vgis.peersdk;

import java.util.Map;

/** What the adapter's operations return to the SDK. */
public final class Results {
    private Results() {}

    /** A created or attached segment as {@code create}/{@code attach} report it. */
    public record Opened(Segment segment, String name, long size) {}

    /** A written region; {@code null} in place of a Placed means "does not fit". */
    public record Placed(long offset, long length) {}

    /**
     * The outcome of {@code resolve}: the resolved (or unchanged) batch, the
     * metadata after resolution, whether the input was a pointer and the
     * offset the resolving side releases (or {@code null}). The SDK writes
     * {@code batch} to the request's {@code out} file, then runs {@code onDone}
     * (which may close what the implementation allocated).
     */
    public record Resolution(Batch batch, Map<String, String> metadata, boolean pointer, Long releaseOffset,
                             AutoCloseable onDone) {}

    /** The outcome of {@code maybe_write}: the pointer or the unchanged batch, and its metadata. */
    public record MaybeWritten(Batch batch, Map<String, String> metadata, boolean pointer, AutoCloseable onDone) {}

    /** The outcome of {@code read}: the decoded batch, written to {@code out}. */
    public record Read(Batch batch, AutoCloseable onDone) {}

    /** The outcome of {@code make_pointer}. */
    public record Pointer(Batch batch, Map<String, String> metadata, AutoCloseable onDone) {}

    /** Nothing to close. */
    public static final AutoCloseable NOTHING = () -> { };
}
