// Fuzzes what a client posts to /v1/trust: the first byte picks the raw PEM parser
// (inspect_certificate) or the whole route (JSON body, then the PEM, then the trust store in a
// private temporary directory). A certificate that parses must give 64-hex fingerprints.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "daemon/api/tls_identity.h"
#include "daemon/api/tls_listener.h"

namespace {

bool hex64(const std::string& s) { return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos; }

// The store lives in a private directory removed at exit. The name is on the heap on purpose
// (never freed): the exit handler runs after the destructors of static objects.
const std::string& store_dir() {
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/vessel-trust-fuzz-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    if (!made) std::abort();
    auto* d = new std::string(std::string(made) + "/trust");
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(std::filesystem::path(*dir).parent_path(), ec); });
    return d;
  }();
  return *dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace vessel::daemon;
  if (data[0] % 2 == 0) {
    auto info = inspect_certificate(body);
    if (info && (!hex64(info->sha256) || !hex64(info->pubkey_sha256))) std::abort();
    return 0;
  }
  TrustStore trust(store_dir());
  vessel::http::Request r;
  r.method = "POST";
  r.path = "/v1/trust";
  r.body = body;
  auto answer = trust_route(r, trust, Role::Admin);
  if (!answer) std::abort();  // the route is ours
  if (answer->status == 201) {  // accepted: it must be listed, then removable
    auto list = trust.list();
    if (!list || list->size() != 1) std::abort();
    if (!trust.remove(list->at(0).value("fingerprint", ""))) std::abort();
  } else if (answer->status != 400 && answer->status != 409) {
    std::abort();
  }
  return 0;
}
