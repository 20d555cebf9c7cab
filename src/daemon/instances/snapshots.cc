// Named snapshots of VMs (docs/daemon/snapshots.md): the manager's half. A snapshot of a running
// VM is a suspend (a Full vessel-vmm snapshot, the VMM ended: suspend.cc) with the disks frozen
// while no process has them open, then a resume from that very snapshot; so the snapshot's memory,
// devices and disks are of one instant, and the VM goes on from it. A restore ends the VMM, puts
// a new empty top over the snapshot's frozen layer of every disk and resumes from its state.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "base/log.h"
#include "daemon/images/disk_layers.h"
#include "daemon/instances/manager.h"
#include "daemon/instances/snapshot_meta.h"

namespace vessel::daemon {

namespace {

namespace fs = std::filesystem;

constexpr const char* kMetaFile = "snapshot.json";

std::string snapshots_dir(const std::string& dir) { return dir + "/snapshots"; }
std::string layers_dir(const std::string& dir) { return dir + "/disks/layers"; }

Result<SnapshotMeta> read_meta(const std::string& dir, const std::string& snap) {
  std::string path = snapshots_dir(dir) + "/" + snap + "/" + kMetaFile;
  auto text = read_file(path);
  if (!text) return fail(ENOENT, "no snapshot {}", snap);
  auto j = TRY_CTX(json::parse(*text), "{}", path);
  auto m = TRY_CTX(snapshot_meta_from_json(j, dir), "{}", path);
  if (m.name != snap) return fail(EINVAL, "{} names snapshot {}", path, m.name);
  return m;
}

// Every finished snapshot (a directory without snapshot.json is one a crash interrupted).
std::vector<SnapshotMeta> all_metas(const std::string& dir) {
  std::vector<SnapshotMeta> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(snapshots_dir(dir), ec)) {
    auto m = read_meta(dir, entry.path().filename().string());
    if (m) out.push_back(std::move(*m));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.created < b.created || (a.created == b.created && a.name < b.name); });
  return out;
}

uint64_t allocated(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

json::Json describe_snapshot(const std::string& dir, const SnapshotMeta& m) {
  json::Json j = to_json(m);
  std::string sdir = snapshots_dir(dir) + "/" + m.name;
  uint64_t size = allocated(sdir + "/vm.state") + allocated(sdir + "/vm.mem");
  for (const auto& d : m.disks) size += allocated(d.layer);
  j["size"] = size;
  return j;
}

Result<void> write_meta(const std::string& sdir, const SnapshotMeta& m) {
  std::string tmp = sdir + "/" + kMetaFile + ".tmp";
  TRY(write_file(tmp, json::dump(to_json(m)) + "\n"));
  if (::rename(tmp.c_str(), (sdir + "/" + kMetaFile).c_str()) != 0) return fail_errno("rename {}", tmp);
  return {};
}

Result<void> link_files(const std::string& from, const std::string& to) {
  for (const char* f : {"vm.state", "vm.mem"}) {
    std::string a = from + "/" + f, b = to + "/" + f;
    if (::link(a.c_str(), b.c_str()) != 0) return fail_errno("link {} to {}", a, b);
  }
  return {};
}

// The instance's disk tops: the qcow2 files directly in INSTANCE/disks.
std::vector<std::string> disk_tops(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir + "/disks", ec))
    if (entry.is_regular_file() && entry.path().extension() == ".qcow2") out.push_back(entry.path().string());
  return out;
}

// Removes the layers neither a disk top nor a snapshot still needs, and empty layer directories.
void collect_layers(const std::string& dir) {
  std::vector<std::string> needed;
  auto need_chain = [&](const std::string& file) {
    needed.push_back(file);
    auto chain = backing_chain(file);
    if (chain) needed.insert(needed.end(), chain->begin(), chain->end());
    else log::warn("snapshots: {}: {}", file, chain.error().to_string());
  };
  for (const auto& top : disk_tops(dir)) need_chain(top);
  for (const auto& m : all_metas(dir))
    for (const auto& d : m.disks) need_chain(d.layer);
  std::vector<std::string> layers;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(layers_dir(dir), ec))
    if (entry.is_regular_file()) layers.push_back(entry.path().string());
  for (const auto& l : unneeded_layers(layers, needed)) {
    log::info("snapshots: removing layer {}, which nothing uses any more", l);
    ::unlink(l.c_str());
  }
  for (const auto& entry : fs::directory_iterator(layers_dir(dir), ec))
    if (entry.is_directory()) ::rmdir(entry.path().c_str());  // only empty ones go
}

Error not_a_vm(const std::string& name) {
  return Error(EINVAL, fmt::format("{} is a container: named snapshots are for VMs", name))
      .with_hint(fmt::format("a container is checkpointed: vessel checkpoint {}", name));
}

}  // namespace

Result<json::Json> Manager::snapshot_create(const std::string& name, const std::string& snap, bool memory) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (spec.type != InstanceType::Vm) return Unexpected(not_a_vm(name));
  std::string dir = dir_of(name);
  auto metas = all_metas(dir);
  std::vector<std::string> taken;
  for (const auto& m : metas) taken.push_back(m.name);
  std::string sname = snap.empty() ? default_snapshot_name(taken) : snap;
  TRY(check_snapshot_name(sname));
  if (std::find(taken.begin(), taken.end(), sname) != taken.end())
    return Unexpected(Error(EEXIST, fmt::format("{} has a snapshot {} already", name, sname))
                          .with_hint(fmt::format("vessel snapshot rm {} {}, or choose another name", name, sname)));
  State from = parse_state(row.state).value_or(State::Stopped);
  if (is_saved(from))
    return Unexpected(Error(EBUSY, fmt::format("{} is {}", name, row.state)).with_hint("resume it first, or stop it"));
  bool live = has_process(from);
  BootSource boot = TRY_CTX(boot_source(spec, dir), "snapshot {}", name);
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  SnapshotMeta meta{sname, now, memory && live, {}};
  std::vector<size_t> drive_of;  // the VM's drive index of each meta.disks entry
  for (size_t i = 0; i < boot.disks.size(); ++i) {
    const auto& d = boot.disks[i];
    if (d.read_only) continue;  // nothing changes it
    if (!d.path.starts_with(dir + "/disks/"))
      return Unexpected(Error(ENODEV, fmt::format("disk {} of {} is the host file {}: a snapshot covers the instance's own disks only", i, name, d.path))
                            .with_hint("give the VM a disk of its own (--disk size=...) or attach the file read-only"));
    std::string base = fs::path(d.path).filename().string();
    meta.disks.push_back({d.path, fmt::format("{}/{}-{}/{}", layers_dir(dir), sname, ns, base)});
    drive_of.push_back(i);
  }
  std::string sdir = snapshots_dir(dir) + "/" + sname;
  std::error_code ec;
  fs::remove_all(sdir, ec);  // an unfinished one of that name
  fs::create_directories(sdir, ec);
  if (ec) return fail(ec.value(), "create {}: {}", sdir, ec.message());
  auto drop = [&](Error err) -> Result<json::Json> {
    fs::remove_all(sdir, ec);
    return Unexpected(std::move(err).add_context(fmt::format("snapshot {} of {}", sname, name)));
  };
  InstanceContext ctx{spec, dir, dir + "/console.log", cgroup_of(name)};
  if (live) {
    // The snapshot's configuration must let each drive open its frozen layer after a load.
    for (size_t k = 0; k < meta.disks.size(); ++k) {
      std::vector<std::string> allowed{meta.disks[k].layer};
      const auto& chain = boot.disks[drive_of[k]].backing_files;
      allowed.insert(allowed.end(), chain.begin(), chain.end());
      if (auto set = backend_for(spec).set_disk_backing(ctx, drive_of[k], allowed); !set) return drop(std::move(set).error());
    }
    if (auto saved = save_locked(*e, row, spec, Action::Suspend, {}); !saved) return drop(std::move(saved).error());
  }
  // No process has the disks open now: freeze them, all or none.
  auto frozen = [&]() -> Result<void> {
    for (size_t k = 0; k < meta.disks.size(); ++k) {
      if (auto f = freeze_disk(meta.disks[k].top, meta.disks[k].layer); !f) {
        while (k-- > 0) (void)unfreeze_disk(meta.disks[k].top, meta.disks[k].layer);
        return f;
      }
    }
    if (meta.memory) TRY(link_files(dir + "/suspended", sdir));
    return write_meta(sdir, meta);
  }();
  if (!frozen) {
    fs::remove_all(sdir, ec);
    // (a failure after the freeze of every disk leaves them frozen: the VM's data is whole either way)
  }
  if (live) {
    auto saved_row = TRY(store_.get_instance(name));
    auto back = saved_row ? restore_locked(*e, *saved_row, spec) : Result<void>(Unexpected(Error(ENOENT, "gone")));
    if (!back)
      return Unexpected(std::move(back).error()
                            .add_context(fmt::format("snapshot {} of {}: {} could not go on after it and stays suspended", sname, name, name))
                            .with_hint(fmt::format("vessel resume {}", name)));
    if (from == State::Paused && e->process) {
      TRY_CTX(backend_for(spec).pause(ctx, *e->process), "snapshot {}: pause {} again", sname, name);
      TRY(set_state(name, State::Paused, &*e->process, "pause"));
    }
  }
  if (!frozen) return Unexpected(std::move(frozen).error().add_context(fmt::format("snapshot {} of {}", sname, name)));
  log::info("{}: snapshot {} taken ({}, {} disk layers)", name, sname, meta.memory ? "with memory" : "disks only", meta.disks.size());
  events_.publish({{"type", "instance-snapshot-created"}, {"name", name}, {"snapshot", sname}});
  return describe_snapshot(dir, meta);
}

Result<json::Json> Manager::snapshot_list(const std::string& name) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (spec.type != InstanceType::Vm) return Unexpected(not_a_vm(name));
  json::Json out = json::Json::array();
  for (const auto& m : all_metas(dir_of(name))) out.push_back(describe_snapshot(dir_of(name), m));
  return out;
}

Result<json::Json> Manager::snapshot_restore(const std::string& name, const std::string& snap) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (spec.type != InstanceType::Vm) return Unexpected(not_a_vm(name));
  TRY(check_snapshot_name(snap));
  std::string dir = dir_of(name);
  auto meta = read_meta(dir, snap);
  if (!meta)
    return Unexpected(std::move(meta).error().add_context(fmt::format("restore {}", name))
                          .with_hint(fmt::format("vessel snapshot ls {}", name)));
  State from = parse_state(row.state).value_or(State::Stopped);
  // The VM as it is now is dropped: its process, or what a suspend saved.
  if (has_process(from)) TRY_CTX(stop_locked(*e, row, spec, std::chrono::seconds(0)), "restore {} to {}", name, snap);
  else if (is_saved(from)) TRY_CTX(discard_saved_locked(row, spec), "restore {} to {}", name, snap);
  for (const auto& d : meta->disks) TRY_CTX(reset_top(d.top, d.layer), "restore {} to {}", name, snap);
  collect_layers(dir);
  if (meta->memory) {
    std::string saved = dir + "/suspended";
    std::error_code ec;
    fs::remove_all(saved, ec);
    if (::mkdir(saved.c_str(), 0700) != 0) return fail_errno("mkdir {}", saved);
    TRY_CTX(link_files(snapshots_dir(dir) + "/" + snap, saved), "restore {} to {}", name, snap);
    TRY(set_state(name, State::Suspended, nullptr, "snapshot-restore"));
    auto now = TRY(store_.get_instance(name));
    if (!now) return fail(ENOENT, "no instance named {}", name);
    auto back = restore_locked(*e, *now, spec);
    if (!back)
      return Unexpected(std::move(back).error()
                            .add_context(fmt::format("restore {} to {}: it holds the snapshot, suspended", name, snap))
                            .with_hint(fmt::format("vessel resume {}", name)));
  }
  events_.publish({{"type", "instance-snapshot-restored"}, {"name", name}, {"snapshot", snap}});
  auto now = TRY(store_.get_instance(name));
  if (!now) return fail(ENOENT, "no instance named {}", name);
  return describe(*now);
}

Result<void> Manager::snapshot_remove(const std::string& name, const std::string& snap) {
  auto e = entry(name);
  std::lock_guard lock(e->mutex);
  auto [row, spec] = TRY(load(name));
  if (spec.type != InstanceType::Vm) return Unexpected(not_a_vm(name));
  TRY(check_snapshot_name(snap));
  std::string dir = dir_of(name);
  auto meta = read_meta(dir, snap);
  if (!meta)
    return Unexpected(std::move(meta).error().add_context(fmt::format("rm a snapshot of {}", name))
                          .with_hint(fmt::format("vessel snapshot ls {}", name)));
  std::error_code ec;
  // snapshot.json first: a crash half-way leaves an unfinished snapshot, never a broken one.
  ::unlink((snapshots_dir(dir) + "/" + snap + "/" + kMetaFile).c_str());
  fs::remove_all(snapshots_dir(dir) + "/" + snap, ec);
  if (ec) return fail(ec.value(), "remove snapshot {} of {}: {}", snap, name, ec.message());
  // Its layers go when nothing else needs them; a layer under the live disk or a later snapshot
  // stays (it holds their data) and goes with the last of them.
  collect_layers(dir);
  events_.publish({{"type", "instance-snapshot-deleted"}, {"name", name}, {"snapshot", snap}});
  return {};
}

}  // namespace vessel::daemon
