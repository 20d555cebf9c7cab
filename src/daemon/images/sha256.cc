#include "daemon/images/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "base/fd.h"

namespace vessel::daemon {

namespace {

std::string hex(const unsigned char* d, unsigned n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = nullptr;
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t size) {
  if (ctx_) EVP_DigestUpdate(ctx_, data, size);
}

std::string Sha256::hex_digest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!ctx_ || EVP_DigestFinal_ex(ctx_, md, &len) != 1) return "";  // never equal to a digest
  return hex(md, len);
}

Result<std::string> sha256_file(const std::string& path) {
  Fd fd = TRY(Fd::open(path, O_RDONLY));
  Sha256 hash;
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read {}", path);
    if (n == 0) break;
    hash.update(buf.data(), static_cast<size_t>(n));
  }
  auto digest = hash.hex_digest();
  if (digest.empty()) return fail(EIO, "sha256 of {}: OpenSSL failed", path);
  return digest;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex(md, len);
}

}  // namespace vessel::daemon
