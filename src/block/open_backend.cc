// open_backend: the one entry point virtio-blk uses; the caller names the format, we never guess.
#include "block/block_backend.h"
#include "block/raw.h"

namespace vessel::block {

Result<std::unique_ptr<BlockBackend>> open_backend(const std::string& path, Format format,
                                                   const OpenOptions& options) {
  switch (format) {
    case Format::Raw: {
      auto raw = TRY(RawBackend::open(path, options));
      return std::unique_ptr<BlockBackend>(std::move(raw));
    }
    case Format::Qcow2:
      return fail(ENOTSUP, "qcow2 is not implemented yet: {}", path);
  }
  return fail(EINVAL, "unknown image format");
}

}  // namespace vessel::block
