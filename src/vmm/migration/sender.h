// The sending side of a live migration (docs/vmm/migration.md): pre-copy over one stream.
// Dirty logging on; all of RAM while the VM runs (round 0); then the pages written meanwhile, round
// after round, until what is left fits the downtime budget (or a round limit); then pause, the last
// dirty pages and the VM's state, and the receiver's Done. Any failure before Done resumes the VM
// (if this migration paused it) and marks every page it took from the dirty logs dirty again: a VM
// is never lost to a failed migration.
#pragma once

#include <chrono>
#include <optional>

#include "vmm/migration/channel.h"
#include "vmm/migration/protocol.h"

namespace vessel::vmm::migration {

// The VM being sent (the Machine in vessel-vmm; a fake in the unit tests). Page i of the dirty
// bitmaps is bytes [i * 4096, (i + 1) * 4096) of ram().
class VmSource {
 public:
  virtual ~VmSource() = default;
  virtual std::span<const uint8_t> ram() const = 0;
  virtual uint32_t vcpu_count() const = 0;
  virtual bool running() const = 0;
  // From now on every page written (by the guest or the VMM) is logged.
  virtual Result<void> start_dirty_log() = 0;
  // The pages written since the last call (or since start_dirty_log), and the logs start again.
  virtual Result<std::vector<uint64_t>> take_dirty_pages() = 0;
  virtual Result<void> pause() = 0;
  // The paused VM's state, encoded as a snapshot's state file.
  virtual Result<std::vector<uint8_t>> save_state() = 0;
  virtual Result<void> resume() = 0;
  // The migration failed: these pages (taken from the logs) count as written again.
  virtual void put_back_dirty_pages(const std::vector<uint64_t>& pages) = 0;
  // Pages known to read as zeros without reading them (anonymous memory the guest never touched:
  // reading each would fault in the zero page), one bit each; empty when not known. Asked once
  // the dirty log is on, so a page written later is still sent.
  virtual std::vector<uint64_t> untouched_pages() { return {}; }
  // The VM's configuration (config-file JSON, not empty), sent ahead so that the receiver builds
  // the VM before any page (out of the downtime). Must be the configuration the state will hold.
  virtual std::string config() const = 0;
};

struct SendOptions {
  // The pause the migration aims for: the last round starts once the dirty pages left can be sent
  // in half of it at the bandwidth measured so far (the other half is for the state and the
  // receiver's build).
  std::chrono::milliseconds downtime_limit{50};
  uint32_t max_rounds = 16;  // dirty-iteration rounds after round 0 before the pause anyway
  std::optional<Token> token;  // the receiver's (token.h), sent right after the preamble
};

struct SendReport {
  double total_ms = 0;     // from the connection to the receiver's Done
  double downtime_ms = 0;  // from the pause to the receiver's Done
  uint32_t rounds = 0;     // every round, round 0 and the final one included
  uint64_t data_pages = 0, zero_pages = 0, bytes = 0;
  uint64_t final_pages = 0;  // dirty pages sent while paused
  uint64_t state_bytes = 0;
  // Where the downtime went: pausing the vCPUs and devices, the last pages, reading and sending
  // the state, the receiver building the VM until its Done.
  double pause_ms = 0, final_pages_ms = 0, state_ms = 0, receiver_ms = 0;
};

Result<SendReport> send(Channel& channel, VmSource& vm, const SendOptions& options);

}  // namespace vessel::vmm::migration
