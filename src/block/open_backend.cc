// open_backend: the one entry point virtio-blk uses; the caller names the format, we never guess.
#include "block/block_backend.h"
#include "block/image.h"

namespace vessel::block {

Result<std::unique_ptr<BlockBackend>> open_backend(const std::string& path, Format format,
                                                   const OpenOptions& options) {
  return open_image(path, format, options);
}

}  // namespace vessel::block
