// Image locks as QEMU takes them (block/file-posix.c), so that vessel-img, vessel-vmm, qemu-img
// and QEMU see each other's: open file description (OFD) read locks on single bytes of the image
// file. A user locks byte 100+P for each permission P it holds and byte 200+P for each
// permission it refuses to share with others; it may open only when nobody else holds 200+P for
// a permission it wants, nor 100+P for a permission it refuses to share. The locks live as long
// as the file description (the backend's fd) and vanish with the process.
//
//   permission        P   writer (read-write open)        reader (read-only open)   -U reader
//   consistent read   0   holds                            holds                      holds
//   write             1   holds, refuses to share          refuses to share           -
//   write unchanged   2   -                                -                          -
//   resize            3   holds, refuses to share          refuses to share           -
//
// So a writer excludes other writers and readers (they refuse to share "write"), readers share
// with readers, and a -U reader (qemu-img's --force-share) is excluded by nobody and excludes
// nobody. These are the bytes qemu-io and qemu-img 7.2 lock on a qcow2 image (/proc/locks).
#pragma once

#include <string>

#include "base/error.h"

namespace vessel::block {

enum class LockMode {
  Reader,       // read-only open: others may read, nobody may write
  Writer,       // read-write open: nobody else may read consistently or write
  ForceShare,   // read-only open that tolerates writers (-U / --force-share)
};

// The permission bits (QEMU's BLK_PERM_*), bit P is byte 100+P / 200+P.
inline constexpr unsigned kPermConsistentRead = 1u << 0;
inline constexpr unsigned kPermWrite = 1u << 1;
inline constexpr unsigned kPermWriteUnchanged = 1u << 2;
inline constexpr unsigned kPermResize = 1u << 3;
inline constexpr unsigned kPermAll = 0xf;
inline constexpr int kLockPermBase = 100;
inline constexpr int kLockSharedBase = 200;

// Takes the locks of `mode` on `fd` (the image at `path`, for messages) and checks nobody else's
// conflict with them. A conflict is an EBUSY error in QEMU's words ('Failed to get "write"
// lock'), naming the process that holds the conflicting lock when /proc shows it, with a hint.
// File systems without OFD locks (EINVAL, ENOLCK, EOPNOTSUPP) open without them, as QEMU does.
// `name_holders`: look the holders up in /proc for the message.
Result<void> lock_image(int fd, const std::string& path, LockMode mode, bool name_holders = true);

struct OpenOptions;
// The locks an open with `options` takes (none when options.lock is false). force_share on a
// read-write open is an error, as in qemu-img.
Result<void> lock_for_open(int fd, const std::string& path, const OpenOptions& options);

// Drops every lock this open file description holds on the image (`release`), or takes those of
// `options` again, checking others' as an open does: a live migration's hand-over.
Result<void> hand_over_image_lock(int fd, const std::string& path, const OpenOptions& options, bool release);

// Who holds a lock on byte `byte` of the file open as `fd` other than `fd` itself: "pid N
// (comm)" entries joined with ", ", empty when /proc does not tell (not root, or gone).
std::string lock_holders(int fd, int byte);

}  // namespace vessel::block
