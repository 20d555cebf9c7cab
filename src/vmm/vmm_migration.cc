// Live migration on the VMM thread (docs/vmm/migration.md): PUT /migration/send runs the sender
// against this process's Machine; PUT /migration/receive and --migrate-from run the receiver in a
// fresh process and then the VM it brought. Both block the VMM thread until the migration ends
// (as Cloud Hypervisor's); the guest runs meanwhile, API requests and signals wait.
#include <sys/mman.h>
#include <unistd.h>

#include "base/log.h"
#include "vmm/migration/accept.h"
#include "vmm/migration/receiver.h"
#include "vmm/migration/sender.h"
#include "vmm/migration/url.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/vmm.h"

namespace vessel::vmm {
namespace {

using json::Json;
using Clock = std::chrono::steady_clock;

// How long either side waits for the other to read or write anything.
constexpr std::chrono::seconds kPeerTimeout{10};

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

Json sent_json(const std::string& url, const migration::SendReport& r) {
  return Json{{"destination_url", url},       {"downtime_ms", r.downtime_ms}, {"total_ms", r.total_ms},
              {"rounds", r.rounds},           {"data_pages", r.data_pages},   {"zero_pages", r.zero_pages},
              {"final_pages", r.final_pages}, {"state_bytes", r.state_bytes}, {"bytes", r.bytes},
              {"downtime_parts_ms",
               {{"pause", r.pause_ms}, {"final_pages", r.final_pages_ms}, {"state", r.state_ms},
                {"receiver", r.receiver_ms}}}};
}

// Guest RAM for the Hello: fresh anonymous memory, laid out as the sender's (GuestMemory).
migration::AllocateRam allocate_into(std::optional<GuestMemory>& memory) {
  return [&memory](const migration::Hello& hello) -> Result<migration::RamTarget> {
    memory = TRY(GuestMemory::create(hello.mem_size));
    uint8_t* base = memory->host_base();
    return migration::RamTarget{{base, memory->size()}, [base](uint64_t offset, uint64_t length) {
                                  // Private anonymous pages read as zeros again after MADV_DONTNEED.
                                  (void)::madvise(base + offset, length, MADV_DONTNEED);
                                }};
  };
}

}  // namespace

VmmReply Vmm::on(const action::SendMigration& send) {
  if (!machine_) return fail(EINVAL, "migration/send: the VM is not started");
  auto state = machine_->state();
  if (state != Machine::State::Running && state != Machine::State::Paused)
    return fail(EINVAL, "migration/send: the VM is {}", to_string(state));
  auto url = TRY_CTX(migration::parse_url(send.destination_url), "migration/send");
  auto source = machine_->migration_source(pagemap_.get());
  TRY_CTX(machine_->check_migratable(), "migration/send");
  auto fd = TRY_CTX(migration::connect(url), "migration/send");
  migration::FdChannel channel(std::move(fd), kPeerTimeout, signals_->fd());
  migration::SendOptions options;
  options.downtime_limit = std::chrono::milliseconds(send.downtime_ms);
  options.max_rounds = send.max_rounds;
  options.token = send.token;
  log::info("migration to {}: sending {} MiB of RAM", url.text, source->ram().size() >> 20);
  auto report = migration::send(channel, *source, options);
  if (!report) {
    log::warn("migration to {} failed, the VM goes on here: {}", url.text, report.error().to_string());
    return Unexpected(std::move(report.error()).add_context(fmt::format("migration/send to {} (the VM goes on here)", url.text)));
  }
  log::info("migration to {} done: downtime {:.2f} ms, total {:.1f} ms, {} rounds, {} pages with data, {} zero, "
            "{} in the final round, {} bytes of state",
            url.text, report->downtime_ms, report->total_ms, report->rounds, report->data_pages, report->zero_pages,
            report->final_pages, report->state_bytes);
  migration_report_ = sent_json(url.text, *report);
  machine_->post_event({VmEvent::Kind::Migrated, 0, fmt::format("migrated to {}", url.text)});
  return migration_report_;
}

VmmReply Vmm::on(const action::ReceiveMigration& receive) {
  return receive_migration(receive.receiver_url, receive.token);
}

Result<Json> Vmm::receive_migration(const std::string& url_text, const std::optional<migration::Token>& token) {
  if (machine_) return fail(EINVAL, "migration/receive: the VM is already running (receive in a fresh vessel-vmm)");
  if (config_.boot_source)
    return fail(EINVAL, "migration/receive: this vessel-vmm has a boot source already (receive in a fresh vessel-vmm)");
  auto url = TRY_CTX(migration::parse_url(url_text), "migration/receive");
  auto accepted = [&]() -> Result<migration::AcceptedStream> {
    auto listener = TRY_CTX(migration::listen(url), "migration/receive");
    log::info("migration: waiting for a sender on {}{}", url.text, token ? " (with a token)" : "");
    migration::AcceptOptions options;
    options.token = token ? &*token : nullptr;
    options.peer_timeout = kPeerTimeout;
    options.cancel_fd = signals_->fd();
    auto stream = migration::accept_stream(listener.get(), options);
    if (url.kind == migration::Url::Kind::Unix) ::unlink(url.path.c_str());  // one migration per listener
    return stream;
  }();
  if (!accepted) return Unexpected(std::move(accepted).error().add_context(fmt::format("migration/receive on {}", url.text)));
  auto began = Clock::now();
  migration::FdChannel& channel = accepted->channel;
  std::optional<GuestMemory> memory;
  std::unique_ptr<Machine> prepared;  // built from the Config message, before the pages
  auto on_config = [&](const std::string& text) -> Result<void> {
    auto config = TRY(parse_vm_config(text));
    MachineOptions options = options_.machine;
    options.incoming_migration = true;  // writable images: locked when the state comes (the sender lets go then)
    prepared = TRY(Machine::prepare_restore(std::move(config), std::move(*memory), std::move(options)));
    memory.reset();  // it moved into the machine (the same mapping: the pages keep arriving there)
    return {};
  };
  migration::Received received;
  Clock::time_point state_at;
  auto built = [&]() -> Result<std::unique_ptr<Machine>> {
    received = TRY(migration::receive_opened(channel, allocate_into(memory), on_config));
    received.stats.bytes += accepted->opened_bytes;
    state_at = Clock::now();
    auto s = TRY_CTX(snapshot::decode(received.state), "the migrated VM's state");
    if (s.mem_size != received.hello.mem_size || s.vcpu_count != received.hello.vcpu_count)
      return fail(EPROTO, "the state is of a VM with {} vCPUs and {} bytes of RAM, the Hello announced {} and {}",
                  s.vcpu_count, s.mem_size, received.hello.vcpu_count, received.hello.mem_size);
    if (!prepared) return fail(EPROTO, "no VM was built from a Config message");
    if (s.config != received.config)
      return fail(EPROTO, "the state's configuration differs from the one the Config message announced");
    TRY(prepared->load_state(s));
    return std::move(prepared);
  }();
  if (!built) {
    migration::answer_error(channel, built.error());
    log::warn("migration from {} failed: {}", url.text, built.error().to_string());
    return Unexpected(std::move(built.error()).add_context(fmt::format("migration/receive on {}", url.text)));
  }
  // Built and started paused before Done: nothing that can fail comes after it but the resume. A
  // sender that does not get Done resumes its VM, so this one must then not run.
  if (auto started = adopt(std::move(*built), false); !started) {
    migration::answer_error(channel, started.error());
    return Unexpected(std::move(started.error()).add_context("migration/receive: start the VM"));
  }
  log::debug("migration: the VM is built and started paused, {:.2f} ms after its state: answering Done", ms_since(state_at));
  if (auto done = migration::answer_done(channel); !done) {
    machine_.reset();
    config_ = VmConfig{};
    return Unexpected(std::move(done.error()).add_context("migration/receive: the sender went away before the VM was handed over"));
  }
  if (received.resume) TRY_CTX(machine_->resume(), "migration/receive: resume the VM");
  const auto& st = received.stats;
  migration_report_ = Json{{"receiver_url", url.text},    {"total_ms", ms_since(began)},
                           {"restore_ms", ms_since(state_at)}, {"rounds", st.rounds},
                           {"data_pages", st.data_pages}, {"zero_pages", st.zero_pages},
                           {"bytes", st.bytes},           {"resumed", received.resume},
                           {"refused_connections", accepted->refused}};
  log::info("migration from {} done: {} rounds, {} pages with data, {} zero, {} bytes in {:.1f} ms; VM built and {} "
            "in {:.2f} ms after its state",
            url.text, st.rounds, st.data_pages, st.zero_pages, st.bytes, ms_since(began),
            received.resume ? "resumed" : "left paused", ms_since(state_at));
  return migration_report_;
}

}  // namespace vessel::vmm
