// A VGIS peer: one JSON request per line on stdin, one response per line on
// stdout (docs/peer-protocol.md). It answers hello and shutdown; every other
// op is "unsupported" until you implement it. Logs go to stderr.
//
// nlohmann::json keeps non-negative integers as uint64_t, so offsets and
// sizes up to 2^64 - 1 are exact: read them with get<std::uint64_t>().
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace {

const char* const kName = "@PEER_NAME@";

struct Rejected : std::runtime_error {
  Rejected(std::string kind, const std::string& message) : std::runtime_error(message), kind(std::move(kind)) {}
  std::string kind;
};

json handle(const json& req) {
  const std::string op = req.value("op", "");
  if (op == "hello") {
    return {{"name", kName}, {"version", "0.1.0"}, {"language", "c++"}, {"protocol", 1},
            {"arrow", {{"library", "none"}, {"version", "0"}}},
            {"capabilities", json::array()}};  // keep equal to peer.toml's list
  }
  if (op == "shutdown") return json::object();
  throw Rejected("unsupported", "op " + op + " is not implemented yet");
}

json failure(const json& id, const std::string& kind, const std::string& message) {
  return {{"id", id}, {"ok", false}, {"error", {{"kind", kind}, {"message", message}}}};
}

// The response to one request line; sets stop after shutdown.
json answer(const std::string& line, bool& stop) {
  json req;
  try {
    req = json::parse(line);
  } catch (const json::exception& e) {
    return failure(nullptr, "bad_request", std::string("not JSON: ") + e.what());
  }
  const json id = req.is_object() && req.contains("id") ? req["id"] : json(nullptr);
  try {
    json result = handle(req);
    result["id"] = id;
    result["ok"] = true;
    stop = req.value("op", "") == "shutdown";
    return result;
  } catch (const Rejected& e) {
    return failure(id, e.kind, e.what());
  } catch (const std::exception& e) {
    return failure(id, "internal", e.what());
  }
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    bool stop = false;
    json response = answer(line, stop);
    std::cout << response.dump(-1, ' ', false, json::error_handler_t::replace) << '\n' << std::flush;
    if (stop) break;
  }
  return 0;
}
