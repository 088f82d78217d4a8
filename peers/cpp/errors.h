// Typed rejections, one per error kind of the peer protocol (docs/peer-protocol.md).
// Every rejection names the spec clause it enforces (docs/SPEC.md).
#pragma once

#include <stdexcept>
#include <string>

namespace vgis {

class VgisError : public std::runtime_error {
 public:
  VgisError(std::string kind, const std::string& clause, const std::string& message)
      : std::runtime_error("[" + clause + "] " + message), kind_(std::move(kind)) {}
  const std::string& kind() const { return kind_; }

 private:
  std::string kind_;
};

inline VgisError BadHeader(const std::string& c, const std::string& m) { return {"bad_header", c, m}; }
inline VgisError BadName(const std::string& c, const std::string& m) { return {"bad_name", c, m}; }
inline VgisError OutOfBounds(const std::string& c, const std::string& m) { return {"out_of_bounds", c, m}; }
inline VgisError BadPointer(const std::string& c, const std::string& m) { return {"bad_pointer", c, m}; }
inline VgisError NoAllocation(const std::string& c, const std::string& m) { return {"no_allocation", c, m}; }
inline VgisError IpcError(const std::string& c, const std::string& m) { return {"ipc_error", c, m}; }
inline VgisError SchemaMismatch(const std::string& c, const std::string& m) { return {"schema_mismatch", c, m}; }
inline VgisError BadRequest(const std::string& c, const std::string& m) { return {"bad_request", c, m}; }
inline VgisError Unsupported(const std::string& c, const std::string& m) { return {"unsupported", c, m}; }
inline VgisError Internal(const std::string& c, const std::string& m) { return {"internal", c, m}; }

}  // namespace vgis
