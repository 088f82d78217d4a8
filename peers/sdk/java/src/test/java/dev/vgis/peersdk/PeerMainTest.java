package dev.vgis.peersdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The protocol loop over an adapter that wraps nothing: ids, argument checks,
 * error kinds, capabilities, and the handle table's close/unlink bookkeeping
 * (the same cases as the Go SDK's run_test.go).
 */
class PeerMainTest {
    /** A segment that counts what the SDK asks of it. */
    static final class FakeSegment implements Segment {
        int closed;
        int unlinked;

        @Override
        public void close() {
            closed++;
        }

        @Override
        public void unlink() {
            unlinked++;
        }

        @Override
        public byte[] header(int length) {
            byte[] b = new byte[length];
            Arrays.fill(b, (byte) 0xab);
            return b;
        }

        @Override
        public Results.Placed write(Batch batch) {
            return null;
        }

        @Override
        public Results.Resolution resolve(Batch pointer, Map<String, String> metadata) {
            return new Results.Resolution(pointer, metadata, false, null, Results.NOTHING);
        }

        @Override
        public void reset() {}
    }

    /** Creates FakeSegments; attach fails with an exception classify does not map. */
    static class FakeAdapter implements Adapter {
        FakeSegment last;

        @Override
        public String name() {
            return "fake";
        }

        @Override
        public String version() {
            return "0";
        }

        @Override
        public List<String> capabilities() {
            return List.of("reset");
        }

        @Override
        public Results.Opened create(String name, long size) throws PeerError {
            if (Long.compareUnsigned(size, 65536) <= 0) {
                throw PeerError.badRequest("[LIFE-1] too small");
            }
            last = new FakeSegment();
            return new Results.Opened(last, name, size);
        }

        @Override
        public Results.Opened attach(String name, Long size) {
            throw new IllegalStateException("attach exploded");
        }

        @Override
        public PeerError classify(String op, Throwable failure) {
            return null;
        }
    }

    private static List<JsonNode> serve(Adapter adapter, String... lines) throws IOException {
        byte[] input = (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, new PeerMain(adapter).loop(new ByteArrayInputStream(input), out));
        try (MappingIterator<JsonNode> it = new ObjectMapper().readerFor(JsonNode.class).readValues(out.toByteArray())) {
            return it.readAll();
        }
    }

    private static String kind(JsonNode response) {
        return response.path("error").path("kind").asText("");
    }

    @Test
    void loopAnswersEveryLineInOrderWithTheProtocolsKinds() throws IOException {
        List<JsonNode> got = serve(new FakeAdapter(),
                "{\"id\": 18446744073709551615, \"op\": \"hello\"}",
                "{\"id\": 2, \"op\": \"create\", \"name\": \"/a\", \"size\": 65536}",
                "{\"id\": 3, \"op\": \"create\", \"name\": \"/a\", \"size\": 18446744073709551615}",
                "{\"id\": 4, \"op\": \"create\", \"name\": \"/a\", \"size\": -1}",
                "{\"id\": 5, \"op\": \"attach\", \"name\": \"/a\", \"size\": null}",
                "{\"id\": 6, \"op\": \"header\", \"segment\": \"s1\", \"length\": 4}",
                "{\"id\": 7, \"op\": \"allocate\", \"segment\": \"s1\", \"size\": 8}",
                "{\"id\": 8, \"op\": \"bogus\"}",
                "not json",
                "{\"id\": 9, \"op\": \"reset\", \"segment\": \"s1\"}",
                "{\"id\": 10, \"op\": \"close\", \"segment\": \"s1\"}",
                "{\"id\": 11, \"op\": \"header\", \"segment\": \"s1\", \"length\": 4}",
                "{\"id\": 12, \"op\": \"create\", \"name\": 7, \"size\": 70000}",
                "{\"id\": 13, \"op\": \"shutdown\"}",
                "{\"id\": 14, \"op\": \"hello\"}");
        assertEquals(14, got.size(), "nothing is answered after shutdown: " + got);
        assertEquals("18446744073709551615", got.get(0).get("id").bigIntegerValue().toString());
        assertEquals(List.of("reset"), List.of(got.get(0).get("capabilities").get(0).asText()));
        assertEquals("java", got.get(0).get("language").asText());
        Map<Integer, String> want = Map.of(1, "bad_request", 3, "bad_request", 4, "internal", 6, "unsupported",
                7, "unsupported", 8, "bad_request", 11, "bad_request", 12, "bad_request");
        want.forEach((i, k) -> assertEquals(k, kind(got.get(i)), "response " + i + ": " + got.get(i)));
        assertTrue(got.get(4).path("error").path("message").asText().contains("attach exploded"), got.get(4).toString());
        assertEquals("18446744073709551615", got.get(2).get("size").bigIntegerValue().toString());
        assertEquals("s1", got.get(2).get("segment").asText());
        assertEquals("abababab", got.get(5).get("hex").asText());
        assertTrue(got.get(9).get("ok").asBoolean() && got.get(10).get("ok").asBoolean());
        assertEquals(13, got.get(13).get("id").asInt());
    }

    @Test
    void shutdownClosesAndUnlinksACreatedSegmentOnce() throws IOException {
        FakeAdapter adapter = new FakeAdapter();
        serve(adapter, "{\"id\": 1, \"op\": \"create\", \"name\": \"/a\", \"size\": 70000}",
                "{\"id\": 2, \"op\": \"close\", \"segment\": \"s1\"}");
        assertEquals(1, adapter.last.closed);
        assertEquals(1, adapter.last.unlinked);
    }

    @Test
    void anAttacherNeverUnlinks() throws IOException {
        FakeAdapter adapter = new FakeAdapter() {
            @Override
            public Results.Opened attach(String name, Long size) {
                last = new FakeSegment();
                return new Results.Opened(last, name, 70000);
            }
        };
        List<JsonNode> got = serve(adapter, "{\"id\": 1, \"op\": \"attach\", \"name\": \"/a\", \"size\": null}",
                "{\"id\": 2, \"op\": \"unlink\", \"segment\": \"s1\"}");
        assertEquals("bad_request", kind(got.get(1)));
        assertEquals(1, adapter.last.closed);
        assertEquals(0, adapter.last.unlinked);
    }
}
