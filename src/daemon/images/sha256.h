// SHA-256 of files and strings (OpenSSL), as lower-case hex: how every blob is verified.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

struct evp_md_ctx_st;

namespace vessel::daemon {

// SHA-256 of bytes fed piece by piece (a backup's files as they stream past).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  std::string hex_digest();  // ends the hash

 private:
  evp_md_ctx_st* ctx_;
};

Result<std::string> sha256_file(const std::string& path);
std::string sha256_hex(std::string_view data);

}  // namespace vessel::daemon
