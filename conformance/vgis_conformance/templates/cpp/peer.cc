// A VGIS peer over the kit's C++ peer SDK (peers/sdk/cpp/vgis_peer.h): the
// SDK reads one JSON request per line on stdin and writes one response per
// line on stdout (docs/peer-protocol.md); it owns the handles, the
// arguments (u64 exact), batch and schema files, error responses and
// shutdown. This backend answers hello; every other op is "unsupported"
// until you override its method. Logs go to stderr.
//
// Next: return a Segment of your library from Create and Attach (override
// Name, Size, Header, Close, Unlink, Write, Resolve), then the optional
// methods behind the capabilities you declare in Hello and peer.toml.
// Throw vgis_peer::Error::Of(kind, clause, message) to choose an error
// kind, or map your library's exceptions in KindOf.
#include <string>

#include "vgis_peer.h"

namespace {

class Backend : public vgis_peer::Backend {
 public:
  vgis_peer::Info Hello() override {
    vgis_peer::Info info;
    info.name = "@PEER_NAME@";
    info.version = "0.1.0";
    info.capabilities = {};  // keep equal to peer.toml's list
    return info;
  }
};

}  // namespace

int main() {
  Backend backend;
  return vgis_peer::Run(backend);
}
