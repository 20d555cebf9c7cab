// Fuzz target for what a user (config file, API client) or a kernel image can feed vessel-vmm:
//   byte 0 % 3 == 0: the rest is a --config-file document
//   byte 0 % 3 == 1: an API request: byte 1 picks the method, byte 2 the path, the rest is the
//                    body (PUT /actions is skipped: InstanceStart would build a real VM)
//   byte 0 % 3 == 2: the rest is a kernel image for the ELF/bzImage/flat loaders
// Nothing may crash, hang or throw; errors are Results.
#include <cstdint>
#include <string>

#include "vmm/api/api_server.h"
#include "vmm/api/vm_config.h"
#include "vmm/vmm.h"
#include "vmm/arch/x86_64/loader.h"

using namespace vessel;
using namespace vessel::vmm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto c = parse_vm_config(rest);
      if (c) (void)c->to_json().dump();
      break;
    }
    case 1: {
      if (rest.size() < 2) return 0;
      static const char* methods[] = {"GET", "PUT", "PATCH", "POST", "DELETE"};
      static const char* paths[] = {"/", "/machine-config", "/boot-source", "/drives/rootfs", "/drives/",
                                    "/entropy", "/vm", "/vm/config", "/metrics", "/version", "/actions"};
      http::Request r;
      r.method = methods[static_cast<uint8_t>(rest[0]) % 5];
      r.path = paths[static_cast<uint8_t>(rest[1]) % 11];
      if (r.path == "/actions") return 0;
      r.body = std::string(rest.substr(2));
      // The API's parser and the VMM thread's action handler, called directly (no mailbox).
      auto vmm = Vmm::create(VmConfig{}, VmmOptions{MachineOptions{-1}, {}, {}});
      if (!vmm) return 0;
      ApiController api([&](VmmAction a) { return (*vmm)->handle(a); });
      (void)api.handle(r);
      // A second request sees the state the first one left.
      r.method = "GET";
      r.path = "/vm/config";
      (void)api.handle(r);
      break;
    }
    case 2: {
      static auto memory = GuestMemory::create(32 << 20);
      if (!memory) return 0;
      std::span<const uint8_t> file(data + 1, size - 1);
      (void)x86::load_elf_pvh(*memory, file);
      (void)x86::load_bzimage(*memory, file);
      break;
    }
  }
  return 0;
}
