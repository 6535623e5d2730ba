/* Putting a profile's hooks in (takeover_install) and taking them out
 * (takeover_uninstall): each spec's target found and checked, its seat
 * set up for the entries (takeover.c), and every hook and slot switched
 * in the order that keeps reheap's blocks away from functions that did
 * not make them. */
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "front/takeover_quarantine.h"
#include "front/takeover_seat.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "reheap/hook.h"

static size_t nseats;
static rh_hook_t *hooks[SPEC_PROFILE_MAX]; /* the inline hooks among the seats */
static size_t nhooks;

static void describe(const spec_t *s, char *buf, size_t cap) {
  if (s->slot && cap > 1) {
    *buf++ = '*';
    cap--;
  }
  switch (s->kind) {
  case SPEC_TARGET_SYMBOL: snprintf(buf, cap, "%s", s->symbol); break;
  case SPEC_TARGET_MODULE_SYMBOL: snprintf(buf, cap, "%s!%s", s->module, s->symbol); break;
  case SPEC_TARGET_ADDRESS: snprintf(buf, cap, "0x%llx", (unsigned long long)s->address); break;
  case SPEC_TARGET_MODULE_OFFSET:
    snprintf(buf, cap, "%s+0x%llx", s->module, (unsigned long long)s->address);
    break;
  case SPEC_TARGET_SIGNATURE: {
    int at = snprintf(buf, cap, "sig:%s:", s->module);
    for (size_t k = 0; k < s->nsig && at > 0 && (size_t)at + 4 < cap; k++)
      at += snprintf(buf + at, cap - (size_t)at, k ? " %02X" : "%02X", s->sig[k]);
    for (size_t k = 0, j = (size_t)strlen("sig:") + strlen(s->module) + 1; k < s->nsig; k++, j += 3)
      if (s->sig_any[k] && j + 1 < cap) buf[j] = buf[j + 1] = '?';
    break;
  }
  }
}

static bool is_code(const void *p) { return os_module_code(p) || (os_prot_of(p) & OS_PROT_EXEC) != 0; }

static void *resolve(const spec_t *s, char *why, size_t cap) {
  void *p = NULL;
  switch (s->kind) {
  case SPEC_TARGET_SYMBOL:
    p = os_symbol_lookup(s->symbol);
    if (p == NULL) p = takeover_find_symbol(NULL, s->symbol, s->slot, why, cap);
    break;
  case SPEC_TARGET_MODULE_SYMBOL:
    p = os_module_symbol(s->module, s->symbol);
    if (p == NULL && os_module_base(s->module) == 0) snprintf(why, cap, "module %s is not loaded", s->module);
    else if (p == NULL) p = takeover_find_symbol(s->module, s->symbol, s->slot, why, cap);
    /* a library's variable that the program uses lives in the program,
     * copied there at load (a copy relocation); the library's own is
     * left unused, and the global scope finds the one in use */
    if (p != NULL && s->slot) {
      void *used = os_symbol_lookup(s->symbol);
      if (used != NULL && used != p && os_in_program(used)) p = used;
    }
    break;
  case SPEC_TARGET_ADDRESS:
    p = (void *)(uintptr_t)s->address;
    break;
  case SPEC_TARGET_SIGNATURE:
    p = takeover_find_signature(s, why, cap);
    break;
  case SPEC_TARGET_MODULE_OFFSET: {
    uintptr_t base = os_module_base(s->module);
    if (base == 0) snprintf(why, cap, "module %s is not loaded", s->module);
    else p = (void *)(base + (uintptr_t)s->address);
    break;
  }
  }
  if (p != NULL && !s->slot && !is_code(p)) {
    snprintf(why, cap, "%p is not in executable code", p);
    p = NULL;
  }
  if (p != NULL && s->slot) {
    int prot = os_prot_of(p);
    if (((uintptr_t)p & (sizeof(void *) - 1)) != 0 || prot < 0 || (prot & OS_PROT_WRITE) == 0) {
      snprintf(why, cap, "%p is not an aligned, writable place for a function pointer", p);
      p = NULL;
    } else if (!is_code(*(void *const *)p)) {
      snprintf(why, cap, "what %p holds (%p) is not a function", p, *(void *const *)p);
      p = NULL;
    }
  }
  return p;
}

static bool bytes_match(const spec_t *s, const void *target) {
  if (os_readable_after(target) < s->nexpect) return false;
  const uint8_t *code = target;
  for (size_t k = 0; k < s->nexpect; k++)
    if (!s->expect_any[k] && code[k] != s->expect[k]) return false;
  return true;
}

static void undo(size_t n) {
  for (size_t k = 0; k < n; k++)
    if (takeover_seats[k].hook != NULL) rh_hook_destroy(takeover_seats[k].hook);
  nseats = nhooks = 0;
}

/* A slot is switched with one store of a pointer, and back only if it
 * still holds the entry (the program may have set it since). */
static void slot_set(takeover_seat_t *s, size_t k) {
  (void)k;
  atomic_store_explicit((void *_Atomic *)s->target, s->entry, memory_order_release);
}

static bool slot_put_back(takeover_seat_t *s, size_t k) {
  (void)k;
  void *want = s->entry;
  return atomic_compare_exchange_strong((void *_Atomic *)s->target, &want, s->original);
}

/* Slots switch one at a time: those that take blocks back first, those
 * that hand them out last, so that no block of reheap's reaches a free
 * not yet switched. (Inline hooks all switch at once, between the two.) */
static bool takes_back(spec_role_t r) {
  return r == SPEC_ROLE_FREE || r == SPEC_ROLE_USABLE_SIZE || r == SPEC_ROLE_SCRAP_FREE || r == SPEC_ROLE_SCRAP_PURGE;
}

static void slots_set(bool taking_back, bool handing_out) {
  for (size_t k = 0; k < nseats; k++)
    if (takeover_seats[k].slot && (takes_back(takeover_seats[k].role) ? taking_back : handing_out) &&
        takeover_seats[k].role != SPEC_ROLE_REALLOC)
      slot_set(&takeover_seats[k], k);
  /* reallocs after the frees, before the mallocs */
  for (size_t k = 0; k < nseats && handing_out; k++)
    if (takeover_seats[k].slot && takeover_seats[k].role == SPEC_ROLE_REALLOC) slot_set(&takeover_seats[k], k);
}


static size_t common_prefix(const char *a, const char *b) {
  size_t n = 0;
  while (a[n] != '\0' && a[n] == b[n]) n++;
  return n;
}

/* A profile may cover several allocators (a game's heap and its pool):
 * a realloc's foreign blocks belong to the allocator whose usable_size and
 * free share the longest start of their names with it (Heap_Realloc goes
 * with Heap_Size and Heap_Free, not Pool_Free), the first on a tie. */
static takeover_seat_t *partner(const takeover_seat_t *r, spec_role_t role) {
  takeover_seat_t *best = NULL;
  size_t best_len = 0;
  for (size_t k = 0; k < nseats; k++) {
    size_t len = common_prefix(r->name, takeover_seats[k].name);
    if (takeover_seats[k].role == role && (best == NULL || len > best_len)) {
      best = &takeover_seats[k];
      best_len = len;
    }
  }
  return best;
}

static void pair_reallocs(void) {
  for (size_t k = 0; k < nseats; k++)
    if (takeover_seats[k].role == SPEC_ROLE_REALLOC) {
      takeover_seats[k].size_pair = partner(&takeover_seats[k], SPEC_ROLE_USABLE_SIZE);
      takeover_seats[k].free_pair = partner(&takeover_seats[k], SPEC_ROLE_FREE);
    }
}

bool takeover_install(const spec_profile_t *profile, char *err, size_t cap) {
  if (nseats != 0) {
    snprintf(err, cap, "a profile is installed already");
    return false;
  }
  bool allocates = false, frees = false;
  for (size_t k = 0; k < profile->n; k++) {
    spec_role_t r = profile->specs[k].role;
    allocates |= r == SPEC_ROLE_MALLOC || r == SPEC_ROLE_CALLOC || r == SPEC_ROLE_REALLOC ||
                 r == SPEC_ROLE_MEMALIGN;
    frees |= r == SPEC_ROLE_FREE;
  }
  if (allocates != frees) {
    snprintf(err, cap, "the profile %s but has no %s: blocks would reach a heap that did not make them",
             allocates ? "allocates" : "frees", allocates ? "free" : "allocating role");
    return false;
  }
  /* a scrap heap is reheap's whole or not at all: an object made reheap's
   * by one role would reach the original through a role left out */
  unsigned scrap_roles = 0;
  for (size_t k = 0; k < profile->n; k++) {
    spec_role_t r = profile->specs[k].role;
    if (r >= SPEC_ROLE_SCRAP_INIT && r <= SPEC_ROLE_SCRAP_PURGE) scrap_roles |= 1u << (r - SPEC_ROLE_SCRAP_INIT);
  }
  if (scrap_roles != 0 && scrap_roles != 15) {
    static const spec_role_t all[] = {SPEC_ROLE_SCRAP_INIT, SPEC_ROLE_SCRAP_ALLOC, SPEC_ROLE_SCRAP_FREE,
                                      SPEC_ROLE_SCRAP_PURGE};
    size_t m = 0;
    while (scrap_roles >> m & 1) m++;
    snprintf(err, cap, "the profile has scrap-heap roles but no %s: a scrap heap needs scrap_init, scrap_alloc, "
             "scrap_free and scrap_purge together", spec_role_name(all[m]));
    return false;
  }
  for (size_t k = 0; k < profile->n; k++) {
    const spec_t *s = &profile->specs[k];
    char name[2 * SPEC_NAME_MAX + 8], why[200] = "";
    describe(s, name, sizeof name);
    if (!takeover_fits(s, why, sizeof why)) {
      snprintf(err, cap, "line %u, %s: %s", s->line, name, why);
      undo(k);
      return false;
    }
    void *target = resolve(s, why, sizeof why);
    if (target == NULL) {
      snprintf(err, cap, "line %u, %s: %s", s->line, name, why);
      undo(k);
      return false;
    }
    if (!bytes_match(s, target)) {
      snprintf(err, cap, "line %u, %s: its first bytes differ from expect= (another build of the program?)",
               s->line, name);
      undo(k);
      return false;
    }
    takeover_seat_t *seat = &takeover_seats[k];
    memset(seat, 0, sizeof *seat);
    memcpy(seat->name, name, sizeof seat->name);
    seat->role = s->role;
    seat->conv = s->conv;
    seat->nargs = s->nargs;
    seat->size_mask = s->size32 ? (uintptr_t)UINT32_MAX : UINTPTR_MAX;
    memset(seat->at, -1, sizeof seat->at);
    for (int i = 0; i < s->nargs; i++)
      if (s->args[i] != SPEC_ARG_IGNORED) seat->at[s->args[i]] = (int8_t)i;
    seat->target = target;
    seat->entry = takeover_entry(k, s);
    /* a slot is one pointer: the bytes after it are other variables,
     * which may change (a neighbouring slot of the profile among them) */
    size_t span = s->slot ? sizeof(void *) : sizeof seat->before;
    seat->nbefore = os_readable_after(target) < span ? os_readable_after(target) : span;
    memcpy(seat->before, target, seat->nbefore);
    seat->slot = s->slot;
    if (s->slot) {
      seat->original = *(void *const *)target;
    } else {
      void *original = NULL;
      rh_status_t st = rh_hook_create(target, seat->entry, &original, &seat->hook);
      if (st != RH_OK) {
        snprintf(err, cap, "line %u, %s: cannot hook it: %s", s->line, name, rh_strerror(st));
        undo(k);
        return false;
      }
      seat->original = original;
      hooks[nhooks++] = seat->hook;
    }
    nseats = k + 1;
  }
  pair_reallocs();
  for (size_t k = 0; k < nseats; k++) takeover_originals[k] = takeover_seats[k].original;
  atomic_store(&takeover_active, true); /* before any entry can hand out a block */
  slots_set(true, false);
  rh_status_t st = rh_hook_enable_all(hooks, nhooks);
  if (st != RH_OK) {
    for (size_t k = 0; k < nseats; k++)
      if (takeover_seats[k].slot) slot_put_back(&takeover_seats[k], k);
    snprintf(err, cap, "the hooks could not be switched on together: %s", rh_strerror(st));
    undo(nseats);
    return false;
  }
  slots_set(false, true);
  return true;
}

bool takeover_uninstall(char *err, size_t cap) {
  size_t n = nseats;
  if (n == 0) return true;
  quarantine_flush(); /* held blocks are freed ones: they keep nothing patched */
  size_t live = takeover_live_blocks();
  if (live != 0) {
    snprintf(err, cap, "%zu blocks of reheap's are live and could still reach the patched functions; "
             "they stay patched", live);
    return false;
  }
  /* switched off first and counted again: a block made meanwhile keeps
   * them (an entry already running when they go is a window this does
   * not close); slots that hand blocks out go back first */
  for (size_t k = 0; k < n; k++)
    if (takeover_seats[k].slot && !takes_back(takeover_seats[k].role)) slot_put_back(&takeover_seats[k], k);
  rh_status_t st = rh_hook_disable_all(hooks, nhooks);
  if (st != RH_OK || (live = takeover_live_blocks()) != 0) {
    if (st == RH_OK) rh_hook_enable_all(hooks, nhooks);
    slots_set(false, true);
    if (st != RH_OK) snprintf(err, cap, "the hooks could not be switched off together: %s", rh_strerror(st));
    else snprintf(err, cap, "%zu blocks were made while the hooks went; they stay patched", live);
    return false;
  }
  size_t differ = 0;
  const char *first = NULL;
  for (size_t k = 0; k < n; k++) {
    takeover_seat_t *s = &takeover_seats[k];
    if (s->slot) {
      if (takes_back(s->role)) slot_put_back(s, k); /* one the program changed since is its own */
    } else {
      rh_hook_destroy(s->hook);
      s->hook = NULL;
    }
    if (memcmp(s->target, s->before, s->nbefore) != 0 && differ++ == 0) first = s->name;
  }
  nseats = nhooks = 0;
  if (differ != 0) {
    snprintf(err, cap, "%zu functions were put back but their code (or pointer) differs from before (%s first)",
             differ, first);
    return false;
  }
  return true;
}

size_t takeover_count(void) { return nseats; }

const char *takeover_name(size_t i) { return i < nseats ? takeover_seats[i].name : NULL; }
