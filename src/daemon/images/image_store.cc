#include "daemon/images/image_store.h"

#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "base/fd.h"
#include "daemon/images/archive_import.h"
#include "daemon/images/image_reference.h"
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

json::Json image_info(const ImportedImage& image) {
  // "command": what runs by default (shown by inspect); "entrypoint" and "cmd" for --entrypoint.
  std::vector<std::string> command = image.entrypoint;
  command.insert(command.end(), image.cmd.begin(), image.cmd.end());
  json::Json info = {{"layers", image.layers}, {"command", command}, {"entrypoint", image.entrypoint},
                     {"cmd", image.cmd}, {"env", image.env}, {"workdir", image.workdir},
                     {"user", image.user}, {"format", image.format}, {"size", image.size}};
  if (image.healthcheck) info["healthcheck"] = to_json(*image.healthcheck);
  if (!image.volumes.empty()) info["volumes"] = image.volumes;
  if (!image.config_hex.empty()) {  // kept for push and save; removed with the last image using it
    info["config"] = "sha256:" + image.config_hex;
    info["blobs"] = json::Json::array({"sha256:" + image.config_hex});
  }
  return info;
}

// "podman/busybox.tar" -> "busybox": a name from a file's, for archives that name no image.
std::string name_from_file(const std::string& path) {
  std::string stem = fs::path(path).filename().string();
  for (std::string_view ext : {".tar.gz", ".tgz", ".tar", ".oci"})
    if (stem.size() > ext.size() && stem.ends_with(ext)) stem.resize(stem.size() - ext.size());
  std::string out;
  for (char c : stem) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '-';
  if (out.empty() || !std::isalnum(static_cast<unsigned char>(out[0]))) out.insert(0, "image");
  return out.substr(0, 63);
}

// An archive's image is named as `docker load` names it: its RepoTags (OCI: ref.name) in the
// canonical form pulled images have (busybox:latest -> docker.io/library/busybox:latest), so
// `vessel run busybox` finds it; an archive without one is named after its file.
std::string name_for_archive(const std::string& archive_ref, const std::string& tarball) {
  auto ref = parse_image_reference(archive_ref);
  return !archive_ref.empty() && ref ? ref->to_string() : name_from_file(tarball);
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
    auto row = TRY(find(spec.image));
    if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", spec.image)).with_hint("see `vessel image ls`; pull one with `vessel image pull` or import one with `vessel image import`"));
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
      boot.image_volumes = strings(info, "volumes");
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

Result<json::Json> ImageStore::register_vm(const std::string& given_name, const std::string& kernel,
                                           const std::string& initramfs, const std::string& cmdline,
                                           const std::vector<std::pair<std::string, std::string>>& disks,
                                           const std::function<void(const ImportProgress&)>& progress) {
  const std::string name = given_name.empty() ? name_from_file(kernel) : given_name;
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
  return import_tarball(name, tarball, progress, nullptr);
}

Result<json::Json> ImageStore::import_peer_copy(const std::string& name, const std::string& tarball,
                                                const std::string& config, const std::string& digest) {
  PeerCopy peer{config, digest};
  return import_tarball(name, tarball, [](const ImportProgress&) {}, &peer);
}

Result<json::Json> ImageStore::import_tarball(const std::string& name, const std::string& tarball,
                                              const std::function<void(const ImportProgress&)>& progress,
                                              const PeerCopy* peer) {
  if (!name.empty()) TRY(validate_image_name(name));
  if (tarball.empty() || tarball[0] != '/') return fail(EINVAL, "the archive path must be absolute: {}", tarball);
  std::lock_guard lock(mutex_);
  // A reference given as the name is stored in its canonical form, as a pull stores it.
  std::string chosen = name;
  if (name.find_first_of("/:@") != std::string::npos) chosen = TRY(parse_image_reference(name)).to_string();
  auto check_name = [&](const ImportedImage& image) -> Result<void> {
    if (chosen.empty()) chosen = name_for_archive(image.archive_ref, tarball);
    if (TRY(store_.get_image(chosen)))
      return Unexpected(Error(EEXIST, fmt::format("an image named {} already exists", chosen))
                            .with_hint("import it under another name with --name NAME"));
    return {};
  };
  auto imported = TRY(import_image_archive(tarball, dir_, progress, check_name));
  if (peer && "sha256:" + imported.config_hex != peer->config)
    return fail(EBADMSG, "the image arrived as sha256:{}, the other node has {}: not kept", imported.config_hex, peer->config);
  ImageRow row{chosen, "container", peer ? peer->digest : imported.manifest_digest, image_info(imported).dump()};
  TRY(store_.insert_image(row));
  return inspect(chosen);
}

Result<std::optional<ImageRow>> ImageStore::find(const std::string& name) {
  TRY(validate_image_name(name));
  auto row = TRY(store_.get_image(name));
  if (row) return row;
  auto ref = parse_image_reference(name);
  if (!ref) return row;
  if (ref->to_string() != name) row = TRY(store_.get_image(ref->to_string()));
  // "bb:latest" is also the image imported with --name bb (a local name is its :latest).
  constexpr std::string_view kLibrary = "library/";
  if (!row && ref->domain == "docker.io" && ref->repository.starts_with(kLibrary) && ref->tag == "latest" &&
      ref->digest.empty())
    row = TRY(store_.get_image(ref->repository.substr(kLibrary.size())));
  return row;
}

Result<json::Json> ImageStore::pull(const std::string& reference, const std::optional<http::Credentials>& credentials,
                                    const std::function<void(const PullProgress&)>& progress) {
  auto ref = TRY(parse_image_reference(reference));
  std::string name = ref.to_string();
  auto client = TRY(RegistryClient::connect(ref, credentials, registry_options_));
  std::lock_guard lock(mutex_);
  auto pulled = TRY_CTX(pull_image(*client, ref, dir_, progress), "pull {}", name);
  auto existing = TRY(store_.get_image(name));
  if (existing && existing->digest == pulled.image.manifest_digest) return inspect(name);
  if (existing && existing->type != "container") return fail(EEXIST, "{} names a VM image", name);
  json::Json info = image_info(pulled.image);
  info["source"] = name;
  info["manifest"] = "sha256:" + pulled.manifest_hex;
  info["media_type"] = pulled.media_type;
  info["blobs"].push_back("sha256:" + pulled.manifest_hex);
  // The name moves to the new image; the old one's layers stay (instances may run on them).
  if (existing) TRY(store_.delete_image(name));
  TRY(store_.insert_image(ImageRow{name, "container", pulled.image.manifest_digest, info.dump()}));
  return inspect(name);
}

Result<std::pair<ImageRow, StoredImage>> ImageStore::stored_image(const std::string& name) {
  auto row = TRY(find(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", name)).with_hint("see `vessel image ls`"));
  if (row->type != "container") return fail(ENOTSUP, "{} is a VM image: only container images are pushed or saved", row->name);
  auto info = TRY(json::parse(row->info));
  StoredImage image;
  for (const auto& l : strings(info, "layers")) image.layer_hexes.push_back(l.substr(l.find(':') + 1));
  auto hex_of = [&](const char* key) {
    std::string d = info.contains(key) && info[key].is_string() ? info[key].get<std::string>() : "";
    return d.empty() ? d : d.substr(d.find(':') + 1);
  };
  image.config_hex = hex_of("config");
  image.manifest_hex = hex_of("manifest");
  image.media_type = info.value("media_type", "");
  image.source = info.value("source", "");
  return std::pair{std::move(*row), std::move(image)};
}

Result<json::Json> ImageStore::push(const std::string& name, const std::string& reference,
                                    const std::optional<http::Credentials>& credentials,
                                    const std::function<void(const PushProgress&)>& progress) {
  auto [row, image] = TRY(stored_image(name));
  auto dest = TRY(parse_image_reference(reference));
  auto client = TRY(RegistryClient::connect(dest, credentials, registry_options_, "pull,push"));
  std::lock_guard lock(mutex_);  // the blobs stay while they are sent
  auto digest = TRY_CTX(push_image(*client, dest, image, dir_, progress), "push {}", dest.to_string());
  return json::Json{{"name", row.name}, {"reference", dest.to_string()}, {"digest", digest}};
}

Result<void> ImageStore::save(const std::string& name, SaveFormat format, int out_fd) {
  auto [row, image] = TRY(stored_image(name));
  std::lock_guard lock(mutex_);  // the blobs stay while they are written
  TRY_CTX(save_image(dir_, image, row.name, format, out_fd), "save {}", row.name);
  return {};
}

Result<void> ImageStore::check_login(const std::string& server, const http::Credentials& credentials) {
  // A repository name is needed for a token's scope; the ping (GET /v2/) is what is checked.
  auto ref = TRY(parse_image_reference(server + "/vessel-login-check"));
  TRY(RegistryClient::connect(ref, credentials, registry_options_));
  return {};
}

Result<json::Json> ImageStore::tag(const std::string& source, const std::string& target) {
  auto row = TRY(find(source));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", source)).with_hint("see `vessel image ls`"));
  // A reference is kept in its canonical form, as pull names images; a plain name as it is.
  std::string name = target;
  if (target.find_first_of("/:@") != std::string::npos) name = TRY(parse_image_reference(target)).to_string();
  TRY(validate_image_name(name));
  std::lock_guard lock(mutex_);
  if (TRY(store_.get_image(name))) return fail(EEXIST, "an image named {} already exists", name);
  if (row->type == "vm") return fail(ENOTSUP, "VM images cannot be tagged (their disks are kept per name)");
  TRY(store_.insert_image(ImageRow{name, row->type, row->digest, row->info}));
  return inspect(name);
}

Result<json::Json> ImageStore::list() {
  json::Json out = json::Json::array();
  for (const auto& row : TRY(store_.list_images())) out.push_back(describe(row));
  return out;
}

Result<json::Json> ImageStore::inspect(const std::string& name) {
  auto row = TRY(find(name));
  if (!row) return Unexpected(Error(ENOENT, fmt::format("no image named {}", name)).with_hint("see `vessel image ls`"));
  return describe(*row);
}

Result<void> ImageStore::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto row = TRY(find(name));
  if (!row) return fail(ENOENT, "no image named {}", name);
  for (const auto& inst : TRY(store_.list_instances())) {
    auto spec = json::parse(inst.spec);
    if (!spec || !spec->is_object() || !spec->contains("image") || !(*spec)["image"].is_string()) continue;
    auto used = find((*spec)["image"].get<std::string>());
    if (used && *used && (*used)->name == row->name)
      return Unexpected(Error(EBUSY, fmt::format("image {} is used by instance {}", name, inst.name)).with_hint("delete the instance first"));
  }
  TRY(store_.delete_image(row->name));
  if (row->type == "vm") {
    std::error_code ec;
    fs::remove_all(dir_ + "/disks/" + row->name, ec);
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
    for (const auto& b : strings(*info, "blobs")) {  // a pulled image's config and manifest
      if (in_use.count(b)) continue;
      std::error_code ec;
      fs::remove(dir_ + "/blobs/sha256/" + b.substr(b.find(':') + 1), ec);
    }
  }
  return {};
}

Result<json::Json> ImageStore::commit_built(const std::string& name, const ImportedImage& image) {
  // A reference is kept in its canonical form, as pull and tag name images; a plain name as it is.
  std::string chosen = name;
  if (name.find_first_of("/:@") != std::string::npos) chosen = TRY(parse_image_reference(name)).to_string();
  TRY(validate_image_name(chosen));
  json::Json info = image_info(image);
  std::lock_guard lock(mutex_);
  auto existing = TRY(store_.get_image(chosen));
  if (existing && existing->type != "container") return fail(EEXIST, "{} names a VM image", chosen);
  if (existing) TRY(store_.delete_image(chosen));  // the old image keeps its layers (instances may use them)
  TRY(store_.insert_image(ImageRow{chosen, "container", image.manifest_digest, info.dump()}));
  return inspect(chosen);
}

}  // namespace vessel::daemon
