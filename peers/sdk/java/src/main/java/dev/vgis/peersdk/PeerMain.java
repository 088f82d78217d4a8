package dev.vgis.peersdk;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;

/**
 * The peer protocol (docs/peer-protocol.md) over an {@link Adapter}: reads one
 * JSON request per line from stdin, answers one JSON line on stdout (flushed),
 * keeps the segment-handle table, reads and writes the batch files, and turns
 * every failure, including any {@link Throwable}, into an error response.
 *
 * <p>Nothing but protocol lines reaches stdout: {@link System#out} is pointed
 * at stderr before the adapter runs, so a library that prints cannot corrupt
 * the protocol.</p>
 */
public final class PeerMain {
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final Adapter adapter;
    private final ObjectMapper json = new ObjectMapper();
    private final BufferAllocator allocator = new RootAllocator();
    private final Map<String, Held> handles = new LinkedHashMap<>();
    private int counter;

    /** One entry of the handle table. */
    private static final class Held {
        final Segment segment;
        final boolean owner;
        boolean closed;
        boolean unlinked;

        Held(Segment segment, boolean owner) {
            this.segment = segment;
            this.owner = owner;
        }
    }

    PeerMain(Adapter adapter) {
        this.adapter = adapter;
    }

    /** Run the protocol loop until {@code shutdown} or end of input, then exit with status 0. */
    public static void run(Adapter adapter) {
        PrintStream protocol = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        System.setOut(System.err);
        int status = new PeerMain(adapter).loop(System.in, protocol);
        System.exit(status);
    }

    /** The loop over any pair of streams, so that the SDK's tests drive it without a process. */
    int loop(InputStream input, OutputStream out) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode req = null;
                ObjectNode resp;
                try {
                    req = json.readTree(line);
                    resp = answer(req);
                } catch (JsonProcessingException e) {
                    resp = error(NullNode.getInstance(), new PeerError(Kind.BAD_REQUEST, "not a JSON line: " + e.getOriginalMessage()));
                }
                out.write(json.writeValueAsBytes(resp));
                out.write('\n');
                out.flush();
                if (req != null && req.isObject() && "shutdown".equals(req.path("op").asText(null))) {
                    return 0;
                }
            }
        } catch (IOException e) {
            System.err.println("[peer-sdk] stdin/stdout failed: " + e);
            shutdown();
            return 1;
        }
        shutdown();
        return 0;
    }

    /** One response, never an exception. */
    private ObjectNode answer(JsonNode req) {
        JsonNode id = req.isObject() && req.has("id") ? req.get("id") : NullNode.getInstance();
        String op = req.isObject() ? req.path("op").asText("?") : "?";
        try {
            if (!req.isObject()) {
                throw PeerError.badRequest("a request is a JSON object");
            }
            if (!req.path("op").isTextual()) {
                throw PeerError.badRequest("the request has no op");
            }
            ObjectNode result = handle(op, req);
            ObjectNode resp = NODES.objectNode();
            resp.set("id", id);
            resp.put("ok", true);
            resp.setAll(result);
            return resp;
        } catch (Throwable t) {
            return error(id, toError(op, t));
        }
    }

    private PeerError toError(String op, Throwable t) {
        if (t instanceof PeerError e) {
            return e;
        }
        PeerError mapped = null;
        try {
            mapped = adapter.classify(op, t);
        } catch (Throwable again) {
            System.err.println("[peer-sdk] classify failed: " + again);
        }
        if (mapped != null) {
            return mapped;
        }
        System.err.println("[peer-sdk] internal error in " + op + ":");
        t.printStackTrace(System.err);
        StackTraceElement[] where = t.getStackTrace();
        String at = where.length > 0 ? " at " + where[0] : "";
        return new PeerError(Kind.INTERNAL, t + at, t);
    }

    private ObjectNode error(JsonNode id, PeerError e) {
        ObjectNode resp = NODES.objectNode();
        resp.set("id", id);
        resp.put("ok", false);
        ObjectNode err = resp.putObject("error");
        err.put("kind", e.kind().wire());
        err.put("message", String.valueOf(e.getMessage()));
        return resp;
    }

    // --- operations ------------------------------------------------------------

    private ObjectNode handle(String op, JsonNode req) throws Exception {
        ObjectNode r = NODES.objectNode();
        switch (op) {
            case "hello" -> hello(r);
            case "shutdown" -> shutdown();
            case "create" -> opened(r, adapter.create(str(req, "name"), u64(req, "size")), true);
            case "attach" -> opened(r, adapter.attach(str(req, "name"), optU64(req, "size")), false);
            case "close" -> {
                Held h = held(req, false);
                if (!h.closed) {
                    h.closed = true;
                    h.segment.close();
                }
            }
            case "unlink" -> {
                Held h = held(req, false);
                if (!h.owner) {
                    throw PeerError.badRequest("[LIFE-10] the segment was attached, not created: an attacher never unlinks");
                }
                if (!h.unlinked) {
                    h.unlinked = true;
                    h.segment.unlink();
                }
            }
            case "header" -> {
                long length = u64(req, "length");
                if (length < 0 || length > Integer.MAX_VALUE) {
                    throw PeerError.badRequest("length out of range: " + Long.toUnsignedString(length));
                }
                r.put("hex", HexFormat.of().formatHex(seg(req).header((int) length)));
            }
            case "write" -> {
                Segment s = seg(req);
                try (IpcFiles.Opened in = IpcFiles.read(str(req, "batch"), allocator)) {
                    Results.Placed placed = s.write(in.batch());
                    r.set("offset", u64OrNull(placed == null ? null : placed.offset()));
                    r.set("length", u64OrNull(placed == null ? null : placed.length()));
                }
            }
            case "resolve" -> withBatch(req, (s, batch, md, out) -> {
                Results.Resolution res = s.resolve(batch, md);
                save(out, res.batch(), res.onDone());
                r.put("pointer", res.pointer());
                r.set("metadata", metadataNode(res.metadata()));
                r.set("release_offset", u64OrNull(res.releaseOffset()));
            });
            case "allocate" -> {
                Segment s = seg(req);
                Long offset = s.allocate(u64(req, "size"));
                r.set("offset", u64OrNull(offset));
            }
            case "free" -> seg(req).free(u64(req, "offset"));
            case "allocations" -> {
                List<long[]> entries = seg(req).allocations();
                ArrayNode list = r.putArray("entries");
                for (long[] e : entries) {
                    list.addArray().add(u64Node(e[0])).add(u64Node(e[1]));
                }
            }
            case "shrink" -> seg(req).shrink(u64(req, "offset"), u64(req, "length"));
            case "reset" -> seg(req).reset();
            case "read" -> {
                Segment s = seg(req);
                long offset = u64(req, "offset");
                long length = u64(req, "length");
                String out = str(req, "out");
                try (IpcFiles.Opened in = IpcFiles.read(str(req, "schema"), allocator)) {
                    Results.Read res = s.read(offset, length, in.batch());
                    r.put("rows", res.batch().rows());
                    save(out, res.batch(), res.onDone());
                }
            }
            case "make_pointer" -> {
                long offset = u64(req, "offset");
                long length = u64(req, "length");
                String out = str(req, "out");
                try (IpcFiles.Opened in = IpcFiles.read(str(req, "schema"), allocator)) {
                    Results.Pointer res = adapter.makePointer(in.batch(), offset, length);
                    save(out, res.batch(), res.onDone());
                    r.set("metadata", metadataNode(res.metadata()));
                }
            }
            case "maybe_write" -> withBatch(req, (s, batch, md, out) -> {
                Results.MaybeWritten res = s.maybeWrite(batch, md);
                save(out, res.batch(), res.onDone());
                r.put("pointer", res.pointer());
                r.set("metadata", metadataNode(res.metadata()));
            });
            case "advertise" -> r.set("metadata", metadataNode(seg(req).advertise()));
            default -> throw new PeerError(Kind.UNSUPPORTED, "unknown op " + op);
        }
        return r;
    }

    /** What an op that takes a segment, a batch file, metadata and an out file does with them. */
    @FunctionalInterface
    private interface BatchOp {
        void run(Segment segment, Batch batch, Map<String, String> metadata, String out) throws Exception;
    }

    /** Reads resolve's and maybe_write's arguments, all of them before the op runs, and closes the batch after. */
    private void withBatch(JsonNode req, BatchOp op) throws Exception {
        Segment s = seg(req);
        Map<String, String> md = metadata(req, "metadata");
        String out = str(req, "out");
        try (IpcFiles.Opened in = IpcFiles.read(str(req, "batch"), allocator)) {
            op.run(s, in.batch(), md, out);
        }
    }

    /** Writes an answer's batch to the request's {@code out} file, then releases what it borrowed, written or not. */
    private static void save(String out, Batch batch, AutoCloseable onDone) throws IOException, PeerError {
        try {
            IpcFiles.write(out, batch);
        } finally {
            done(onDone);
        }
    }

    /** Close what an adapter's result holds; a failure to close is logged, not answered. */
    private static void done(AutoCloseable resource) {
        try {
            resource.close();
        } catch (Exception e) {
            System.err.println("[peer-sdk] closing a result failed: " + e);
        }
    }

    private void hello(ObjectNode r) {
        r.put("name", adapter.name());
        r.put("version", adapter.version());
        r.put("language", "java");
        ObjectNode arrow = r.putObject("arrow");
        arrow.put("library", "arrow-java");
        String v = VectorSchemaRoot.class.getPackage().getImplementationVersion();
        arrow.put("version", v == null ? "unknown" : v);
        ArrayNode caps = r.putArray("capabilities");
        adapter.capabilities().forEach(caps::add);
        r.put("protocol", 1);
        Long gate = adapter.minBatchBytes();
        if (gate != null) {
            r.put("min_batch_bytes", gate);
        }
    }

    private void opened(ObjectNode r, Results.Opened o, boolean owner) {
        String key = "s" + (++counter);
        handles.put(key, new Held(o.segment(), owner));
        r.put("segment", key);
        r.put("name", o.name());
        r.set("size", u64Node(o.size()));
    }

    /** Close every segment, then unlink the created ones; failures go to stderr. */
    private void shutdown() {
        for (Map.Entry<String, Held> e : handles.entrySet()) {
            Held h = e.getValue();
            if (!h.closed) {
                h.closed = true;
                try {
                    h.segment.close();
                } catch (Throwable t) {
                    System.err.println("[peer-sdk] shutdown: close " + e.getKey() + ": " + t);
                }
            }
            if (h.owner && !h.unlinked) {
                h.unlinked = true;
                try {
                    h.segment.unlink();
                } catch (Throwable t) {
                    System.err.println("[peer-sdk] shutdown: unlink " + e.getKey() + ": " + t);
                }
            }
        }
        handles.clear();
    }

    // --- arguments -------------------------------------------------------------

    private Held held(JsonNode req, boolean openOnly) throws PeerError {
        String key = str(req, "segment");
        Held h = handles.get(key);
        if (h == null) {
            throw PeerError.badRequest("unknown segment handle " + key);
        }
        if (openOnly && h.closed) {
            throw PeerError.badRequest("segment " + key + " is closed");
        }
        return h;
    }

    private Segment seg(JsonNode req) throws PeerError {
        return held(req, true).segment;
    }

    private static String str(JsonNode req, String key) throws PeerError {
        JsonNode v = req.get(key);
        if (v == null || !v.isTextual()) {
            throw PeerError.badRequest(key + " must be a string, got " + v);
        }
        return v.textValue();
    }

    /** A u64 argument, exactly (no float rounding), as a long with the same 64 bits. */
    private static long u64(JsonNode req, String key) throws PeerError {
        JsonNode v = req.get(key);
        if (v == null || !v.isIntegralNumber()) {
            throw PeerError.badRequest(key + " must be an integer, got " + v);
        }
        BigInteger b = v.bigIntegerValue();
        if (b.signum() < 0 || b.compareTo(U64_MAX) > 0) {
            throw PeerError.badRequest(key + " must be in 0..2^64-1, got " + b);
        }
        return b.longValue();
    }

    private static Long optU64(JsonNode req, String key) throws PeerError {
        JsonNode v = req.get(key);
        return v == null || v.isNull() ? null : u64(req, key);
    }

    private static Map<String, String> metadata(JsonNode req, String key) throws PeerError {
        JsonNode v = req.get(key);
        Map<String, String> md = new LinkedHashMap<>();
        if (v == null || v.isNull()) {
            return md;
        }
        if (!v.isObject()) {
            throw PeerError.badRequest(key + " must be an object of strings, got " + v);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw PeerError.badRequest(key + "." + e.getKey() + " must be a string, got " + e.getValue());
            }
            md.put(e.getKey(), e.getValue().textValue());
        }
        return md;
    }

    private static ObjectNode metadataNode(Map<String, String> md) {
        ObjectNode o = NODES.objectNode();
        if (md != null) {
            md.forEach(o::put);
        }
        return o;
    }

    /** A u64 result: the long's 64 bits read as unsigned. */
    private static JsonNode u64OrNull(Long v) {
        return v == null ? NullNode.getInstance() : u64Node(v);
    }

    private static JsonNode u64Node(long v) {
        return v >= 0 ? NODES.numberNode(v) : NODES.numberNode(new BigInteger(Long.toUnsignedString(v)));
    }
}
