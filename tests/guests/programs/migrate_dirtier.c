// Keeps writing all of its RAM, for the live migration tests (tests/integration/migration/): pass
// after pass over every 4 KiB page from 32 MiB to the end of RAM, it checks that the page still
// holds what the previous pass wrote and writes the value of this pass, then prints "pass N".
// A migrated VM whose receiver missed a page written during the migration shows "bad page".
// Command line: "passes=N" (default 100), "stride=N" (write every Nth page per pass, default 1:
// a larger stride dirties less per pass and lets the dirty rounds converge).
#include "guest.h"

#define START (32ull << 20)

static uint64_t stride_pages;
static uint64_t pass_no;
static uint64_t first_bad;

static uint64_t end_of_ram(void) {
  uint64_t ram = boot_info()->ram_bytes;
  return ram > (3ull << 30) ? (3ull << 30) : ram;
}

static uint64_t value(uint64_t addr, uint64_t pass) { return addr ^ (pass * 0x9e3779b97f4a7c15ull); }

// Ring 3 (as snapshot_counter): checks pass - 1's values, writes this pass's; returns the number
// of pages that held something else.
static uint64_t one_pass(void* arg) {
  (void)arg;
  uint64_t bad = 0, step = 4096 * stride_pages;
  for (uint64_t a = START; a + 4096 <= end_of_ram(); a += step) {
    volatile uint64_t* w = (volatile uint64_t*)a;
    uint64_t want = pass_no == 1 ? 0 : value(a, pass_no - 1);
    if (*w != want) {
      if (!bad) first_bad = a;
      bad++;
    }
    *w = value(a, pass_no);
  }
  return bad;
}

int main(void) {
  uint64_t passes = cmdline_u64("passes", 100);
  stride_pages = cmdline_u64("stride", 1);
  if (stride_pages == 0) stride_pages = 1;
  printf("dirtying %lu MiB, every %lu. page, %lu passes\n", (end_of_ram() - START) >> 20, stride_pages, passes);
  for (pass_no = 1; pass_no <= passes; pass_no++) {
    uint64_t bad = run_user(one_pass, 0);
    if (bad) {
      printf("bad page %lx in pass %lu (%lu pages)\n", first_bad, pass_no, bad);
      return 1;
    }
    printf("pass %lu\n", pass_no);
  }
  printf("done %lu\n", passes);
  return 0;
}
