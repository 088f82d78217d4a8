package vgis.peer;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * A VGIS peer: one JSON request per line on stdin, one response per line on stdout
 * (docs/peer-protocol.md). It answers hello and shutdown; every other op is "unsupported"
 * until you implement it. Logs go to stderr.
 *
 * <p>Gson keeps a number's digits until asked for a type: read offsets and sizes with
 * {@code getAsBigInteger()} (or {@code Long.parseUnsignedLong(e.getAsString())}), never
 * {@code getAsDouble()}, and they stay exact up to 2^64 - 1.
 */
public final class Main {
  static final String NAME = "@PEER_NAME@";
  /** Must equal peer.toml's list. */
  static final String[] CAPABILITIES = {};

  private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

  /** An error answer: {@code kind} is one of the protocol's error kinds. */
  static final class Rejected extends Exception {
    final String kind;

    Rejected(String kind, String message) {
      super(message);
      this.kind = kind;
    }
  }

  private Main() {}

  static JsonObject handle(JsonObject req) throws Rejected {
    String op = req.has("op") && req.get("op").isJsonPrimitive() ? req.get("op").getAsString() : "";
    switch (op) {
      case "hello": {
        JsonObject arrow = new JsonObject();
        arrow.addProperty("library", "none");
        arrow.addProperty("version", "0");
        JsonArray caps = new JsonArray();
        for (String cap : CAPABILITIES) {
          caps.add(cap);
        }
        JsonObject result = new JsonObject();
        result.addProperty("name", NAME);
        result.addProperty("version", "0.1.0");
        result.addProperty("language", "java");
        result.addProperty("protocol", 1);
        result.add("arrow", arrow);
        result.add("capabilities", caps);
        return result;
      }
      case "shutdown":
        return new JsonObject();
      default:
        throw new Rejected("unsupported", "op " + op + " is not implemented yet");
    }
  }

  static JsonObject failure(JsonElement id, String kind, String message) {
    JsonObject error = new JsonObject();
    error.addProperty("kind", kind);
    error.addProperty("message", message);
    JsonObject response = new JsonObject();
    response.add("id", id);
    response.addProperty("ok", false);
    response.add("error", error);
    return response;
  }

  /** A response, and whether the peer stops after sending it. */
  record Answer(JsonObject response, boolean stop) {}

  /** The response to one request line. */
  static Answer answer(String line) {
    JsonObject req;
    try {
      req = JsonParser.parseString(line).getAsJsonObject();
    } catch (JsonParseException | IllegalStateException e) {
      return new Answer(failure(JsonNull.INSTANCE, "bad_request", "not JSON: " + e.getMessage()), false);
    }
    JsonElement id = req.has("id") ? req.get("id") : JsonNull.INSTANCE;
    try {
      JsonObject result = handle(req);
      result.add("id", id);
      result.addProperty("ok", true);
      return new Answer(result, "shutdown".equals(req.get("op").getAsString()));
    } catch (Rejected e) {
      return new Answer(failure(id, e.kind, e.getMessage()), false);
    } catch (RuntimeException e) {
      return new Answer(failure(id, "internal", e.toString()), false);
    }
  }

  public static void main(String[] args) throws IOException {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    String line;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      Answer answer = answer(line);
      out.print(GSON.toJson(answer.response()));
      out.print('\n');
      out.flush();
      if (answer.stop()) {
        return;
      }
    }
  }
}
