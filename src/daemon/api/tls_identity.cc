#include "daemon/api/tls_identity.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <memory>

#include "base/fd.h"
#include "base/sha256_text.h"

namespace vessel::daemon {

namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using Cert = std::unique_ptr<X509, Deleter<X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;

std::string hex(const unsigned char* data, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += fmt::format("{:02x}", data[i]);
  return out;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

Result<Cert> parse_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(ENOMEM, "BIO_new_mem_buf (out of memory)");
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail(EINVAL, "not a PEM certificate");
  // One certificate only: a second block, or anything but whitespace after the first, is refused.
  std::string rest(BIO_pending(bio.get()), '\0');
  if (!rest.empty()) BIO_read(bio.get(), rest.data(), static_cast<int>(rest.size()));
  if (rest.find_first_not_of(" \t\r\n") != std::string::npos) return fail(EINVAL, "expected exactly one PEM certificate");
  return cert;
}

Result<std::string> cert_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &n)) return fail(EINVAL, "cannot digest the certificate");
  return hex(md, n);
}

// Of the whole SubjectPublicKeyInfo (DER), as libcurl's CURLOPT_PINNEDPUBLICKEY pins keys.
Result<std::string> pubkey_sha256(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (len <= 0) return fail(EINVAL, "cannot encode the public key");
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), md);
  OPENSSL_free(der);
  return hex(md, sizeof md);
}

Result<void> write_private(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  {
    Fd fd = TRY(Fd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    TRY(write_all(fd.get(), data.data(), data.size()));
    if (::fsync(fd.get()) < 0) return fail_errno("fsync {}", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) < 0) return fail_errno("rename {}", tmp);
  return {};
}

Result<void> make_identity(const std::string& key_path, const std::string& cert_path) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return fail(EIO, "cannot generate an EC P-256 key");
  Cert cert(X509_new());
  if (!cert) return fail(ENOMEM, "X509_new (out of memory)");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (::getentropy(serial, sizeof serial) < 0) return fail_errno("getentropy");
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BN_free>> bn(BN_bin2bn(serial, sizeof serial, nullptr));
  BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  std::string cn = fmt::format("vesseld@{}", host);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("vessel"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string san = fmt::format("DNS:localhost,DNS:{},IP:127.0.0.1,IP:::1", host);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, san.c_str()},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_ext_key_usage, "serverAuth"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return fail(EINVAL, "certificate extension {}", value);
    X509_add_ext(cert.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) return fail(EIO, "cannot sign the server certificate");
  Bio kb(BIO_new(BIO_s_mem())), cb(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) ||
      !PEM_write_bio_X509(cb.get(), cert.get()))
    return fail(EIO, "cannot encode the server key or certificate");
  TRY(write_private(key_path, bio_string(kb.get()), 0600));
  TRY(write_private(cert_path, bio_string(cb.get()), 0644));
  return {};
}

}  // namespace

Result<CertInfo> inspect_certificate(const std::string& pem) {
  if (pem.size() > 64 * 1024) return fail(EINVAL, "certificate larger than 64 KiB");
  auto cert = TRY(parse_cert(pem));
  CertInfo info;
  info.sha256 = TRY(cert_sha256(cert.get()));
  info.pubkey_sha256 = TRY(pubkey_sha256(cert.get()));
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), buf, sizeof buf);
  info.subject = buf;
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &tm)) {
    char iso[32];
    std::strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    info.not_after = iso;
  }
  return info;
}

Result<TlsIdentity> ensure_server_identity(const std::string& tls_dir) {
  if (::mkdir(tls_dir.c_str(), 0700) < 0 && errno != EEXIST) return fail_errno("mkdir {}", tls_dir);
  std::string key_path = tls_dir + "/server.key", cert_path = tls_dir + "/server.crt";
  if (::access(key_path.c_str(), F_OK) != 0 || ::access(cert_path.c_str(), F_OK) != 0)
    TRY_CTX(make_identity(key_path, cert_path), "create the server's TLS identity in {}", tls_dir);
  TlsIdentity id;
  id.key_pem = TRY(read_file(key_path));
  id.cert_pem = TRY(read_file(cert_path));
  auto info = TRY_CTX(inspect_certificate(id.cert_pem), "{}", cert_path);
  id.cert_sha256 = info.sha256;
  id.pubkey_sha256 = info.pubkey_sha256;
  TRY(write_private(tls_dir + "/server.fingerprint", id.pubkey_sha256 + "\n", 0644));
  return id;
}

TrustStore::TrustStore(std::string dir) : dir_(std::move(dir)) {
  std::string parent = dir_.substr(0, dir_.rfind('/'));
  ::mkdir(parent.c_str(), 0700);
  ::mkdir(dir_.c_str(), 0700);
}

namespace {

// The role recorded in an entry's FINGERPRINT.json; read-only when there is none.
Role stored_role(const std::string& meta_path) {
  auto meta = read_file(meta_path);
  if (!meta) return TrustStore::kDefaultRole;
  auto j = json::parse(*meta);
  if (!j || !j->is_object() || !j->contains("role") || !(*j)["role"].is_string()) return TrustStore::kDefaultRole;
  return parse_role((*j)["role"].get<std::string>()).value_or(TrustStore::kDefaultRole);
}

}  // namespace

std::optional<Role> TrustStore::role_of(const std::string& sha256) const {
  if (!is_sha256_hex(sha256)) return std::nullopt;
  if (::access((dir_ + "/" + sha256 + ".crt").c_str(), F_OK) != 0) return std::nullopt;
  return stored_role(dir_ + "/" + sha256 + ".json");
}

Result<json::Json> TrustStore::add(const std::string& pem, const std::string& name, Role role) {
  auto info = TRY_CTX(inspect_certificate(pem), "trust");
  if (name.size() > 63 || name.find_first_of("/\n\r") != std::string::npos) return fail(EINVAL, "trust: invalid name '{}'", name);
  std::string path = dir_ + "/" + info.sha256 + ".crt";
  if (::access(path.c_str(), F_OK) == 0) return fail(EEXIST, "certificate {} is already trusted", info.sha256);
  json::Json meta = {{"name", name.empty() ? info.subject : name},
                     {"added_at", static_cast<int64_t>(::time(nullptr))},
                     {"role", std::string(to_string(role))}};
  TRY(write_private(dir_ + "/" + info.sha256 + ".json", meta.dump() + "\n", 0600));
  TRY(write_private(path, pem, 0600));  // last: its presence is what grants access
  return json::Json{{"fingerprint", info.sha256}, {"name", meta["name"]}, {"role", meta["role"]},
                    {"subject", info.subject}, {"not_after", info.not_after}};
}

Result<json::Json> TrustStore::list() const {
  json::Json out = json::Json::array();
  std::unique_ptr<DIR, Deleter<closedir>> d(::opendir(dir_.c_str()));
  if (!d) return fail_errno("open {}", dir_);
  std::vector<std::string> fps;
  while (dirent* e = ::readdir(d.get())) {
    std::string f = e->d_name;
    if (f.size() == 68 && f.compare(64, 4, ".crt") == 0 && is_sha256_hex(f.substr(0, 64))) fps.push_back(f.substr(0, 64));
  }
  std::sort(fps.begin(), fps.end());
  for (const auto& fp : fps) {
    json::Json entry = {{"fingerprint", fp}, {"role", std::string(to_string(stored_role(dir_ + "/" + fp + ".json")))}};
    auto meta = read_file(dir_ + "/" + fp + ".json");
    if (meta) {
      auto j = json::parse(*meta);
      if (j && j->is_object()) {
        entry["name"] = j->value("name", "");
        entry["added_at"] = j->value("added_at", int64_t{0});
      }
    }
    auto pem = read_file(dir_ + "/" + fp + ".crt");
    if (pem) {
      auto info = inspect_certificate(*pem);
      if (info) {
        entry["subject"] = info->subject;
        entry["not_after"] = info->not_after;
      }
    }
    out.push_back(entry);
  }
  return out;
}

Result<json::Json> TrustStore::remove(const std::string& which) {
  auto all = TRY(list());
  std::vector<json::Json> hits;
  std::string lower;
  for (char c : which)
    if (c != ':') lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& e : all) {
    std::string fp = e.value("fingerprint", "");
    bool prefix = lower.size() >= 8 && fp.compare(0, lower.size(), lower) == 0;
    if (prefix || e.value("name", "") == which) hits.push_back(e);
  }
  if (hits.empty())
    return Unexpected(Error(ENOENT, fmt::format("no trusted certificate matches '{}'", which)).with_hint("see `vessel trust ls`"));
  if (hits.size() > 1) return fail(EINVAL, "'{}' matches {} certificates; give more of the fingerprint", which, hits.size());
  std::string fp = hits[0].value("fingerprint", "");
  if (::unlink((dir_ + "/" + fp + ".crt").c_str()) < 0) return fail_errno("remove {}", fp);
  ::unlink((dir_ + "/" + fp + ".json").c_str());
  return hits[0];
}

}  // namespace vessel::daemon
