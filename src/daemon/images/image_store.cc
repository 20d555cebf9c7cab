#include "daemon/images/image_store.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "base/fd.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/sha256.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

namespace {

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> strings(const json::Json& j, const char* key) {
  std::vector<std::string> out;
  if (j.contains(key) && j[key].is_array())
    for (const auto& s : j[key])
      if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

}  // namespace

ImageStore::ImageStore(Store& store, std::string dir) : store_(store), dir_(std::move(dir)) {
  std::error_code ec;
  for (const char* sub : {"/blobs/sha256", "/layers", "/tmp"}) fs::create_directories(dir_ + sub, ec);
}

std::string ImageStore::layer_dir(const std::string& digest) const {
  return dir_ + "/layers/" + digest.substr(digest.find(':') + 1);
}

Result<BootSource> ImageStore::resolve(const InstanceSpec& spec) {
  BootSource boot;
  if (!spec.image.empty()) {
    auto row = TRY(store_.get_image(spec.image));
    if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", spec.image)).with_hint("see `vessel image ls`; import one with `vessel image import`"));
    if (row->type != to_string(spec.type))
      return fail(EINVAL, "image {} is a {} image; instance {} is a {}", row->name, row->type, spec.name, to_string(spec.type));
    auto info = TRY(json::parse(row->info));
    if (spec.type == InstanceType::Container) {
      for (const auto& digest : strings(info, "layers")) {
        std::string dir = layer_dir(digest);
        if (!is_dir(dir)) return fail(ENOENT, "layer {} of image {} is missing from the store", digest, row->name);
        boot.layers.push_back(dir);
      }
      // Images imported before ENTRYPOINT and CMD were kept apart have only their sum, "command".
      boot.image_entrypoint = strings(info, "entrypoint");
      boot.image_cmd = info.contains("cmd") ? strings(info, "cmd") : strings(info, "command");
      boot.image_user = info.value("user", "");
      boot.image_env = strings(info, "env");
      boot.workdir = info.value("workdir", "");
      if (info.contains("healthcheck"))
        boot.image_healthcheck = TRY_CTX(parse_healthcheck(info["healthcheck"], "healthcheck"), "image {}", row->name);
    } else {
      boot.kernel = info.value("kernel", "");
      boot.initramfs = info.value("initramfs", "");
      boot.cmdline = info.value("cmdline", "");
      if (info.contains("disks") && info["disks"].is_array())
        for (const auto& d : info["disks"]) boot.base_disks.push_back(TRY_CTX(base_disk_from_json(d), "image {}", row->name));
    }
  }
  if (!spec.rootfs.empty()) {
    if (!is_dir(spec.rootfs)) return fail(ENOENT, "rootfs {} is not a directory", spec.rootfs);
    boot.layers.push_back(spec.rootfs);
  }
  if (!spec.kernel.empty()) boot.kernel = spec.kernel;
  if (!spec.initramfs.empty()) boot.initramfs = spec.initramfs;
  if (!spec.cmdline.empty()) boot.cmdline = spec.cmdline;
  boot.disks = spec.disks;
  if (spec.type == InstanceType::Vm) {
    if (!is_file(boot.kernel)) return fail(ENOENT, "kernel {} does not exist", boot.kernel);
    if (!boot.initramfs.empty() && !is_file(boot.initramfs)) return fail(ENOENT, "initramfs {} does not exist", boot.initramfs);
    for (const auto& d : boot.disks)
      if (d.size_mib == 0 && !is_file(d.path)) return fail(ENOENT, "disk {} does not exist", d.path);
  }
  return boot;
}

json::Json ImageStore::describe(const ImageRow& row) const {
  json::Json j = {{"name", row.name}, {"type", row.type}, {"digest", row.digest}, {"created_at", row.created_at}};
  auto info = json::parse(row.info);
  if (info) j["info"] = *info;
  return j;
}

Result<json::Json> ImageStore::register_vm(const std::string& name, const std::string& kernel,
                                           const std::string& initramfs, const std::string& cmdline,
                                           const std::vector<std::pair<std::string, std::string>>& disks,
                                           const std::function<void(const ImportProgress&)>& progress) {
  TRY(validate_name(name));
  if (kernel.empty() || kernel[0] != '/' || !is_file(kernel)) return fail(ENOENT, "kernel {} is not a file (absolute path)", kernel);
  if (!initramfs.empty() && (initramfs[0] != '/' || !is_file(initramfs)))
    return fail(ENOENT, "initramfs {} is not a file (absolute path)", initramfs);
  std::lock_guard lock(mutex_);  // the name check and the disk directory belong together
  if (TRY(store_.get_image(name))) return fail(EEXIST, "an image named {} already exists", name);
  auto digest = TRY(sha256_file(kernel));
  json::Json info = {{"kernel", kernel}, {"initramfs", initramfs}, {"cmdline", cmdline}};
  std::string disk_dir = dir_ + "/disks/" + name;
  auto drop_disks = [&] {
    std::error_code ec;
    fs::remove_all(disk_dir, ec);
  };
  drop_disks();  // leftovers of an import that crashed half-way
  json::Json stored = json::Json::array();
  for (size_t i = 0; i < disks.size(); ++i) {
    auto [path, format] = disks[i];
    std::string ext = format.empty() ? "raw" : format;  // none is raw (vm_disks.h)
    std::string step = fmt::format("disk {}/{}", i + 1, disks.size());
    auto base = import_base_disk(path, format, fmt::format("{}/disk{}.{}", disk_dir, i, ext), [&](double fraction) {
      if (progress) progress({step, static_cast<uint64_t>(fraction * 1000), 1000});
    });
    if (!base) {
      drop_disks();
      return Unexpected(std::move(base).error());
    }
    stored.push_back(to_json(*base));
  }
  if (!stored.empty()) info["disks"] = stored;
  ImageRow row{name, "vm", "sha256:" + digest, info.dump()};
  auto inserted = store_.insert_image(row);
  if (!inserted) {
    drop_disks();
    return Unexpected(std::move(inserted).error());
  }
  return inspect(name);
}

Result<json::Json> ImageStore::import_archive(const std::string& name, const std::string& tarball,
                                              const std::function<void(const ImportProgress&)>& progress) {
  TRY(validate_name(name));
  if (tarball.empty() || tarball[0] != '/') return fail(EINVAL, "the archive path must be absolute: {}", tarball);
  if (TRY(store_.get_image(name))) return fail(EEXIST, "an image named {} already exists", name);
  std::lock_guard lock(mutex_);
  auto imported = TRY(import_image_archive(tarball, dir_, progress));
  json::Json layers = json::Json::array();
  for (const auto& l : imported.layers) layers.push_back(l);
  // "command": what runs by default (shown by inspect); "entrypoint" and "cmd" for --entrypoint.
  std::vector<std::string> command = imported.entrypoint;
  command.insert(command.end(), imported.cmd.begin(), imported.cmd.end());
  json::Json info = {{"layers", layers}, {"command", command}, {"entrypoint", imported.entrypoint},
                     {"cmd", imported.cmd}, {"env", imported.env}, {"workdir", imported.workdir},
                     {"user", imported.user}, {"format", imported.format}, {"size", imported.size}};
  if (imported.healthcheck) info["healthcheck"] = to_json(*imported.healthcheck);
  ImageRow row{name, "container", imported.manifest_digest, info.dump()};
  TRY(store_.insert_image(row));
  return inspect(name);
}

Result<json::Json> ImageStore::list() {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_images())) out.push_back(describe(row));
  return out;
}

Result<json::Json> ImageStore::inspect(const std::string& name) {
  TRY(validate_name(name));
  auto row = TRY(store_.get_image(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", name)).with_hint("see `vessel image ls`"));
  return describe(*row);
}

Result<void> ImageStore::remove(const std::string& name) {
  TRY(validate_name(name));
  std::lock_guard lock(mutex_);
  auto row = TRY(store_.get_image(name));
  if (!row) return fail(ENOENT, "no image named {}", name);
  for (const auto& inst : TRY(store_.list_instances())) {
    auto spec = json::parse(inst.spec);
    if (spec && spec->is_object() && spec->value("image", "") == name)
      return Unexpected(Error(EBUSY, fmt::format("image {} is used by instance {}", name, inst.name)).with_hint("delete the instance first"));
  }
  TRY(store_.delete_image(name));
  if (row->type == "vm") {
    std::error_code ec;
    fs::remove_all(dir_ + "/disks/" + name, ec);
  }
  // Drop layers and blobs no remaining image refers to.
  std::set<std::string> in_use;
  for (const auto& other : TRY(store_.list_images())) {
    auto info = json::parse(other.info);
    if (info) for (const auto& l : strings(*info, "layers")) in_use.insert(l);
    if (info) for (const auto& b : strings(*info, "blobs")) in_use.insert(b);
  }
  auto info = json::parse(row->info);
  if (info) {
    for (const auto& l : strings(*info, "layers")) {
      if (in_use.count(l)) continue;
      std::error_code ec;
      fs::remove_all(layer_dir(l), ec);
      fs::remove(dir_ + "/blobs/sha256/" + l.substr(l.find(':') + 1), ec);
    }
  }
  return {};
}

}  // namespace vessel::daemon
