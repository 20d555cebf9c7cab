#include "daemon/instances/backup_manifest.h"

#include <set>

#include "base/sha256_text.h"
#include "daemon/images/sha256.h"

namespace vessel::daemon {

namespace {

constexpr size_t kMaxNameBytes = 512;
constexpr size_t kMaxComponentBytes = 128;
constexpr size_t kMaxComponents = 8;
constexpr uint32_t kMaxBaseDisks = 64;
constexpr const char* kSealField = "manifest_sha256";

// The digest of a manifest without its seal field.
std::string seal_of(json::Json j) {
  j.erase(kSealField);
  return sha256_hex(json::dump(j));
}

bool plain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

// What quoting a hostile name in an error shows: at most 80 bytes.
std::string_view shown(std::string_view name) { return name.substr(0, 80); }

Result<BackupFile> parse_file(const json::Json& j, size_t index, const BackupLimits& limits) {
  std::string where = fmt::format("manifest.files[{}]", index);
  if (!j.is_object()) return fail(EINVAL, "{}: expected an object", where);
  TRY(json::reject_unknown(j, where, {"name", "size", "sha256", "backing_base", "backing_file"}));
  BackupFile f;
  f.name = TRY(json::get_string(j, where, "name"));
  TRY_CTX(check_backup_file_name(f.name), "{}", where);
  if (f.name == kBackupManifestName) return fail(EINVAL, "{}: the manifest cannot name itself", where);
  f.size = TRY(json::get_uint(j, where, "size"));
  if (f.size > limits.max_total_bytes)
    return fail(EFBIG, "{}: {} is {} bytes, more than an import takes ({})", where, f.name, f.size,
                limits.max_total_bytes);
  f.sha256 = TRY(json::get_string(j, where, "sha256"));
  if (!is_sha256_hex(f.sha256)) return fail(EINVAL, "{}: sha256 is not 64 lower-case hex digits", where);
  auto base = TRY(json::opt_uint(j, where, "backing_base"));
  if (base && *base >= kMaxBaseDisks) return fail(EINVAL, "{}: backing_base {} is not below {}", where, *base, kMaxBaseDisks);
  if (base) f.backing_base = static_cast<uint32_t>(*base);
  f.backing_file = TRY(json::opt_string(j, where, "backing_file")).value_or("");
  if (!f.backing_file.empty()) TRY_CTX(check_backup_file_name(f.backing_file), "{}.backing_file", where);
  if (f.backing_base && !f.backing_file.empty())
    return fail(EINVAL, "{}: a file has one backing, not both backing_base and backing_file", where);
  if (f.backing_file == f.name && !f.name.empty()) return fail(EINVAL, "{}: {} is backed by itself", where, f.name);
  return f;
}

// Every backing_file names a file of the backup, and following them never loops.
Result<void> check_backings(const BackupManifest& m) {
  for (const auto& f : m.files) {
    const BackupFile* at = &f;
    for (size_t depth = 0; !at->backing_file.empty(); ++depth) {
      if (depth > m.files.size()) return fail(EINVAL, "manifest: the backing files of {} form a loop", shown(f.name));
      const BackupFile* next = m.find(at->backing_file);
      if (!next)
        return fail(EINVAL, "manifest: {} is backed by {}, which the backup does not hold", shown(at->name),
                    shown(at->backing_file));
      at = next;
    }
  }
  return {};
}

}  // namespace

uint64_t BackupManifest::total_bytes() const {
  uint64_t total = 0;
  for (const auto& f : files) total += f.size;  // each is capped: no overflow below 4096 files
  return total;
}

const BackupFile* BackupManifest::find(std::string_view wanted) const {
  for (const auto& f : files)
    if (f.name == wanted) return &f;
  return nullptr;
}

Result<void> check_backup_file_name(std::string_view name) {
  if (name.empty()) return fail(EINVAL, "a file name in the backup is empty");
  if (name.size() > kMaxNameBytes) return fail(EINVAL, "a file name in the backup is longer than {} bytes", kMaxNameBytes);
  size_t components = 0, start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return fail(EINVAL, "file name '{}' in the backup has an empty component", shown(name));
    if (part[0] == '.') return fail(EINVAL, "file name '{}' in the backup has a component starting with '.'", shown(name));
    if (part.size() > kMaxComponentBytes) return fail(EINVAL, "file name '{}' in the backup has a component over {} bytes", shown(name), kMaxComponentBytes);
    for (char c : part)
      if (!plain_char(c)) return fail(EINVAL, "file name '{}' in the backup has a byte outside [A-Za-z0-9._-]", shown(name));
    if (++components > kMaxComponents) return fail(EINVAL, "file name '{}' in the backup is deeper than {}", shown(name), kMaxComponents);
    start = end + 1;
  }
  return {};
}

Result<BackupManifest> parse_backup_manifest(std::string_view text, const BackupLimits& limits) {
  if (text.size() > limits.max_manifest_bytes)
    return fail(EFBIG, "the backup's manifest is {} bytes, more than {}", text.size(), limits.max_manifest_bytes);
  auto j = TRY_CTX(json::parse(text, limits.max_manifest_bytes, 32), "the backup's manifest");
  if (!j.is_object()) return fail(EINVAL, "the backup's manifest is not a JSON object");
  if (TRY(json::opt_string(j, "manifest", "format")).value_or("") != kBackupFormat)
    return fail(EINVAL, "not a vessel backup (its manifest's format is not \"{}\")", kBackupFormat);
  auto version = TRY(json::get_uint(j, "manifest", "version"));
  if (version != kBackupVersion)
    return Unexpected(Error(ENOTSUP, fmt::format("the backup is of format version {}; this vesseld reads version {}", version, kBackupVersion))
                          .with_hint("import it with the vesseld version that made it, or a newer one"));
  TRY(json::reject_unknown(j, "manifest", {"format", "version", "name", "type", "state", "spec", "image", "image_digest",
                                           "with_state", "created_at", "files", kSealField}));
  if (TRY(json::opt_string(j, "manifest", kSealField)).value_or("") != seal_of(j))
    return fail(EBADMSG, "the backup's manifest does not match its {}: the backup is corrupt", kSealField);
  BackupManifest m;
  m.version = static_cast<int>(version);
  m.name = TRY(json::get_string(j, "manifest", "name"));
  m.type = TRY(json::get_string(j, "manifest", "type"));
  if (m.type != "vm" && m.type != "container") return fail(EINVAL, "manifest.type: '{}' is neither vm nor container", shown(m.type));
  m.state = TRY(json::opt_string(j, "manifest", "state")).value_or("");
  if (!j.contains("spec") || !j["spec"].is_object()) return fail(EINVAL, "manifest.spec: expected an object");
  m.spec = j["spec"];
  m.image = TRY(json::opt_string(j, "manifest", "image")).value_or("");
  m.image_digest = TRY(json::opt_string(j, "manifest", "image_digest")).value_or("");
  m.with_state = TRY(json::opt_bool(j, "manifest", "with_state")).value_or(false);
  m.created_at = j.contains("created_at") ? TRY(json::get_int(j, "manifest", "created_at")) : 0;
  if (!j.contains("files") || !j["files"].is_array()) return fail(EINVAL, "manifest.files: expected an array");
  const auto& files = j["files"];
  if (files.size() > limits.max_files)
    return fail(EFBIG, "the backup names {} files, more than {}", files.size(), limits.max_files);
  std::set<std::string> seen;
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    auto f = TRY(parse_file(files[i], i, limits));
    if (!seen.insert(f.name).second) return fail(EINVAL, "manifest: {} is named twice", f.name);
    total += f.size;
    if (total > limits.max_total_bytes)
      return fail(EFBIG, "the backup's files add up to more than an import takes ({} bytes)", limits.max_total_bytes);
    m.files.push_back(std::move(f));
  }
  TRY(check_backings(m));
  return m;
}

json::Json to_json(const BackupManifest& m) {
  json::Json files = json::Json::array();
  for (const auto& f : m.files) {
    json::Json e = {{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}};
    if (f.backing_base) e["backing_base"] = *f.backing_base;
    if (!f.backing_file.empty()) e["backing_file"] = f.backing_file;
    files.push_back(std::move(e));
  }
  json::Json j = {{"format", kBackupFormat}, {"version", m.version}, {"name", m.name}, {"type", m.type},
                  {"state", m.state}, {"spec", m.spec}, {"image", m.image}, {"image_digest", m.image_digest},
                  {"with_state", m.with_state}, {"created_at", m.created_at}, {"files", std::move(files)}};
  j[kSealField] = seal_of(j);
  return j;
}

}  // namespace vessel::daemon
