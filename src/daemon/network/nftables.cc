#include "daemon/network/nftables.h"

#include <nftables/libnftables.h>

#include <memory>
#include <mutex>

namespace vessel::daemon {

Result<void> nft_apply(const std::string& commands) {
  static std::mutex mutex;  // libnftables contexts are not shared; one transaction at a time anyway
  std::lock_guard lock(mutex);
  std::unique_ptr<nft_ctx, decltype(&nft_ctx_free)> ctx(nft_ctx_new(NFT_CTX_DEFAULT), nft_ctx_free);
  if (!ctx) return fail(ENOMEM, "nft_ctx_new (out of memory)");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    std::string why = nft_ctx_get_error_buffer(ctx.get());
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return fail(EIO, "nftables refused vessel's rules: {}", why.substr(0, 2000));
  }
  return {};
}

}  // namespace vessel::daemon
