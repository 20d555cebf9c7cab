#include "daemon/images/archive_import.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "base/fd.h"
#include "daemon/images/image_store.h"
#include "daemon/images/sha256.h"

namespace vessel::daemon {

namespace fs = std::filesystem;

namespace {

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};

// A relative path with no ".." component (archives are hostile input).
Result<std::string> safe_relative(const char* raw) {
  if (!raw) return fail(EINVAL, "entry without a name");
  std::string p = raw;
  while (p.rfind("./", 0) == 0) p = p.substr(2);
  while (!p.empty() && p[0] == '/') p = p.substr(1);
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string::npos) next = p.size();
    if (p.compare(pos, next - pos, "..") == 0) return fail(EINVAL, "archive entry '{}' escapes its directory", raw);
    pos = next + 1;
  }
  return p;
}

std::unique_ptr<archive, ReadFree> open_reader(const std::string& path, Result<void>& status) {
  std::unique_ptr<archive, ReadFree> a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    status = fail(EINVAL, "cannot read {}: {}", path, archive_error_string(a.get()) ? archive_error_string(a.get()) : "?");
  return a;
}

// Extracts the regular files and directories of an outer archive (the image tarball).
Result<void> extract_outer(const std::string& tarball, const std::string& target) {
  Result<void> status;
  auto a = open_reader(tarball, status);
  TRY(status);
  archive_entry* entry;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    auto rel = TRY(safe_relative(archive_entry_pathname(entry)));
    if (rel.empty()) continue;
    std::string dest = target + "/" + rel;
    auto type = archive_entry_filetype(entry);
    std::error_code ec;
    if (type == AE_IFDIR) {
      fs::create_directories(dest, ec);
      continue;
    }
    if (type != AE_IFREG) continue;  // links etc. have no place in an image archive
    fs::create_directories(fs::path(dest).parent_path(), ec);
    Fd out = TRY(Fd::open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600));
    if (archive_read_data_into_fd(a.get(), out.get()) != ARCHIVE_OK)
      return fail(EIO, "cannot extract {} from {}: {}", rel, tarball, archive_error_string(a.get()));
  }
  if (rc != ARCHIVE_EOF) return fail(EINVAL, "{} is not a valid tar archive: {}", tarball, archive_error_string(a.get()));
  return {};
}

Result<json::Json> read_json(const std::string& path) {
  auto text = TRY_CTX(read_file(path), "read {}", fs::path(path).filename().string());
  return TRY_CTX(json::parse(text, 16 << 20), "{}", fs::path(path).filename().string());
}

Result<std::string> digest_hex(const json::Json& j, std::string_view where) {
  if (!j.is_string()) return fail(EINVAL, "{}: expected a digest string", where);
  auto d = j.get<std::string>();
  if (d.rfind("sha256:", 0) != 0 || d.size() != 71) return fail(EINVAL, "{}: unsupported digest '{}'", where, d);
  auto hex = d.substr(7);
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return fail(EINVAL, "{}: bad digest '{}'", where, d);
  return hex;
}

Result<void> verify(const std::string& path, const std::string& hex) {
  auto actual = TRY(sha256_file(path));
  if (actual != hex)
    return fail(EINVAL, "{} has sha256 {} but is named {}: the archive is corrupt", fs::path(path).filename().string(), actual, hex);
  return {};
}

}  // namespace

void read_image_config(const json::Json& config, ImportedImage& out) {
  if (!config.is_object()) return;
  const json::Json* c = config.contains("config") && config["config"].is_object() ? &config["config"] : nullptr;
  if (!c) return;
  auto strings = [&](const char* key) {
    std::vector<std::string> v;
    if (c->contains(key) && (*c)[key].is_array())
      for (const auto& s : (*c)[key])
        if (s.is_string()) v.push_back(s.get<std::string>());
    return v;
  };
  out.command = strings("Entrypoint");
  for (auto& s : strings("Cmd")) out.command.push_back(s);
  out.env = strings("Env");
  if (c->contains("WorkingDir") && (*c)["WorkingDir"].is_string()) out.workdir = (*c)["WorkingDir"].get<std::string>();
}

Result<void> unpack_layer(const std::string& tar, const std::string& target) {
  Result<void> status;
  auto a = open_reader(tar, status);
  TRY(status);
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) return fail(ec.value(), "create {}: {}", target, ec.message());
  std::unique_ptr<archive, WriteFree> w(archive_write_disk_new());
  archive_write_disk_set_options(w.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_TIME |
                                              ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                              ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
  archive_entry* entry;
  int rc;
  while ((rc = archive_read_next_header(a.get(), &entry)) == ARCHIVE_OK) {
    auto rel = TRY(safe_relative(archive_entry_pathname(entry)));
    if (rel.empty()) continue;
    auto slash = rel.rfind('/');
    std::string dir = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
    std::string parent = target + (dir.empty() ? "" : "/" + dir);
    if (base == ".wh..wh..opq") {  // opaque directory
      fs::create_directories(parent, ec);
      if (::setxattr(parent.c_str(), "trusted.overlay.opaque", "y", 1, 0) < 0) return fail_errno("mark {} opaque", parent);
      continue;
    }
    if (base.rfind(".wh.", 0) == 0) {  // whiteout: a 0/0 character device in overlayfs
      fs::create_directories(parent, ec);
      std::string victim = parent + "/" + base.substr(4);
      ::unlink(victim.c_str());
      if (::mknod(victim.c_str(), S_IFCHR | 0000, makedev(0, 0)) < 0) return fail_errno("whiteout {}", victim);
      continue;
    }
    archive_entry_set_pathname(entry, (target + "/" + rel).c_str());
    if (const char* link = archive_entry_hardlink(entry)) {
      auto link_rel = TRY(safe_relative(link));
      archive_entry_set_hardlink(entry, (target + "/" + link_rel).c_str());
    }
    if (archive_write_header(w.get(), entry) != ARCHIVE_OK)
      return fail(EIO, "unpack {}: {}", rel, archive_error_string(w.get()));
    const void* buf;
    size_t size;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block(a.get(), &buf, &size, &offset)) == ARCHIVE_OK)
      if (archive_write_data_block(w.get(), buf, size, offset) != ARCHIVE_OK)
        return fail(EIO, "unpack {}: {}", rel, archive_error_string(w.get()));
    if (r != ARCHIVE_EOF) return fail(EIO, "read {} in layer: {}", rel, archive_error_string(a.get()));
    archive_write_finish_entry(w.get());
  }
  if (rc != ARCHIVE_EOF) return fail(EINVAL, "layer {} is not a valid tar archive: {}", tar, archive_error_string(a.get()));
  archive_write_close(w.get());
  return {};
}

Result<ImportedImage> import_image_archive(const std::string& tarball, const std::string& store,
                                           const std::function<void(const ImportProgress&)>& progress) {
  std::error_code ec;
  for (const char* sub : {"/blobs/sha256", "/layers", "/tmp"}) fs::create_directories(store + sub, ec);
  std::string tmp = fmt::format("{}/tmp/import-{}-{}", store, ::getpid(), std::hash<std::string>{}(tarball + std::to_string(::time(nullptr))));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return fail(ec.value(), "create {}: {}", tmp, ec.message());
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{tmp};
  progress({"read", 0, 1});
  TRY_CTX(extract_outer(tarball, tmp), "import {}", tarball);

  ImportedImage image;
  std::vector<std::string> layer_files;  // paths inside tmp, lowest first
  if (fs::exists(tmp + "/index.json", ec)) {
    image.format = "oci-layout";
    auto index = TRY(read_json(tmp + "/index.json"));
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array() || index["manifests"].empty())
      return fail(EINVAL, "index.json lists no manifests");
    auto mhex = TRY(digest_hex(index["manifests"][0].value("digest", json::Json()), "index.json manifests[0].digest"));
    std::string mpath = tmp + "/blobs/sha256/" + mhex;
    TRY_CTX(verify(mpath, mhex), "manifest");
    image.manifest_digest = "sha256:" + mhex;
    auto manifest = TRY(read_json(mpath));
    if (!manifest.is_object() || !manifest.contains("layers") || !manifest["layers"].is_array())
      return fail(EINVAL, "the manifest lists no layers (an index of indexes is not supported)");
    auto chex = TRY(digest_hex(manifest.contains("config") ? manifest["config"].value("digest", json::Json()) : json::Json(), "manifest config.digest"));
    TRY_CTX(verify(tmp + "/blobs/sha256/" + chex, chex), "config");
    read_image_config(TRY(read_json(tmp + "/blobs/sha256/" + chex)), image);
    for (size_t i = 0; i < manifest["layers"].size(); ++i) {
      auto lhex = TRY(digest_hex(manifest["layers"][i].value("digest", json::Json()), fmt::format("manifest layers[{}]", i)));
      layer_files.push_back(tmp + "/blobs/sha256/" + lhex);
    }
  } else if (fs::exists(tmp + "/manifest.json", ec)) {
    image.format = "docker-archive";
    auto text = TRY(read_file(tmp + "/manifest.json"));
    image.manifest_digest = "sha256:" + sha256_hex(text);
    auto manifest = TRY_CTX(json::parse(text), "manifest.json");
    if (!manifest.is_array() || manifest.empty() || !manifest[0].is_object()) return fail(EINVAL, "manifest.json lists no image");
    const auto& m = manifest[0];
    auto config_name = TRY(safe_relative(m.value("Config", "").c_str()));
    auto config = TRY(read_json(tmp + "/" + config_name));
    read_image_config(config, image);
    // Layers are verified against the config's diff_ids (sha256 of each uncompressed tar).
    json::Json diff_ids = config.contains("rootfs") ? config["rootfs"].value("diff_ids", json::Json::array()) : json::Json::array();
    if (!m.contains("Layers") || !m["Layers"].is_array()) return fail(EINVAL, "manifest.json: no Layers");
    if (diff_ids.size() != m["Layers"].size())
      return fail(EINVAL, "manifest.json has {} layers but the config lists {} diff_ids", m["Layers"].size(), diff_ids.size());
    for (size_t i = 0; i < m["Layers"].size(); ++i) {
      if (!m["Layers"][i].is_string()) return fail(EINVAL, "manifest.json Layers[{}]: not a string", i);
      auto rel = TRY(safe_relative(m["Layers"][i].get<std::string>().c_str()));
      auto hex = TRY(digest_hex(diff_ids[i], fmt::format("config rootfs.diff_ids[{}]", i)));
      std::string path = tmp + "/" + rel;
      TRY_CTX(verify(path, hex), "layer {}", i);
      std::string named = tmp + "/layer-" + hex;
      fs::rename(path, named, ec);
      if (ec) return fail(ec.value(), "rename layer {}: {}", i, ec.message());
      layer_files.push_back(named);
    }
  } else {
    return Unexpected(Error(EINVAL, fmt::format("{} is neither a docker-archive (manifest.json) nor an OCI layout (index.json)", tarball))
                          .with_hint("make one with `podman save -o FILE IMAGE` or `skopeo copy`"));
  }

  for (size_t i = 0; i < layer_files.size(); ++i) {
    std::string hex = fs::path(layer_files[i]).filename().string();
    if (hex.rfind("layer-", 0) == 0) hex = hex.substr(6);
    progress({"verify", i, layer_files.size()});
    if (image.format == "oci-layout") TRY_CTX(verify(layer_files[i], hex), "layer {}", i);
    image.size += fs::file_size(layer_files[i], ec);
    std::string blob = store + "/blobs/sha256/" + hex;
    if (!fs::exists(blob, ec)) {
      fs::rename(layer_files[i], blob, ec);
      if (ec) return fail(ec.value(), "store blob {}: {}", hex, ec.message());
    }
    std::string layer = store + "/layers/" + hex;
    if (!fs::exists(layer, ec)) {  // unpacked once, shared by every image that has it
      progress({"unpack", i, layer_files.size()});
      std::string partial = layer + ".partial";
      fs::remove_all(partial, ec);
      auto unpacked = unpack_layer(blob, partial);
      if (!unpacked) {
        fs::remove_all(partial, ec);
        return Unexpected(std::move(unpacked).error().add_context(fmt::format("unpack layer {}", i)));
      }
      fs::rename(partial, layer, ec);
      if (ec) return fail(ec.value(), "store layer {}: {}", hex, ec.message());
    }
    image.layers.push_back("sha256:" + hex);
  }
  progress({"done", layer_files.size(), layer_files.size()});
  return image;
}

}  // namespace vessel::daemon
