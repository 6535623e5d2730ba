/* Inline hooks: sites, chains, enable and disable.
 *
 * Every hook on one function shares its site (one patch, one trampoline
 * slot). With one enabled hook whose detour is in reach, the patch jumps
 * straight to it; otherwise to the slot's relay, which jumps through
 * relay_to to the newest enabled hook's detour. Each hook's "original" is
 * its onward jump, which goes through onward_to[i] to the next older enabled
 * hook's detour or, past the last, to the relocated code. Every change of
 * the function's bytes is made with the other threads stopped
 * (hook_batch.c).
 *
 * Bookkeeping is static (no malloc: the engine may be replacing it) and
 * guarded by one lock. */
#include <string.h>

#include "hook/hook_internal.h"
#include "os/os.h"

#define HOOKS_MAX 1024

#define GOTS_MAX 64
static hook_got_t gots[GOTS_MAX];
static bool got_used[GOTS_MAX];

static hook_site_t sites[HOOK_SITES_MAX];
static rh_hook_t hooks[HOOKS_MAX];
static unsigned long next_seq;
static size_t enabled_count;
static os_lock_t engine_lock = OS_LOCK_INIT;

static hook_site_t *site_find(const uint8_t *target) {
  for (size_t i = 0; i < HOOK_SITES_MAX; i++)
    if (sites[i].target == target) return &sites[i];
  return NULL;
}

static rh_status_t site_open(uint8_t *target, hook_site_t **out) {
  hook_site_t *s = NULL;
  for (size_t i = 0; i < HOOK_SITES_MAX && s == NULL; i++)
    if (sites[i].target == NULL) s = &sites[i];
  if (s == NULL) return RH_ERR_NO_MEMORY;
  rh_status_t st;
  size_t patch_len = HOOK_PATCH_LEN;
  hook_slot_t *slot = hook_slot_alloc(target, &st);
#if defined(__x86_64__) || defined(__aarch64__)
  /* No free memory in the near jump's reach (2 GiB, on aarch64 128 MiB):
   * the absolute jump instead, where the function's first instructions
   * leave room for it. */
  if (slot == NULL && st == RH_ERR_NO_NEAR_MEMORY) {
    slot = hook_slot_alloc(NULL, &st);
    patch_len = HOOK_PATCH_FAR_LEN;
  }
#endif
  if (slot == NULL) return st;
  const void *start = NULL;
  size_t len = os_symbol_size(target, &start);
  if (start != target || len == 0) {
    /* no symbol tells the length: scan as far as the bytes can be read */
    size_t readable = os_readable_after(target);
    len = (readable < HOOK_SCAN_MAX ? readable : HOOK_SCAN_MAX) | HOOK_LEN_GUESSED;
  }
  st = hook_relocate(target, len, (uintptr_t)slot->code, patch_len, &s->reloc);
  if (st != RH_OK) {
    hook_slot_free(slot);
    return st;
  }
  memcpy(slot->code, s->reloc.code, s->reloc.code_len);
  atomic_store_explicit(&slot->relay_to, (uintptr_t)slot->code, memory_order_release);
  hook_emit_jmp_indirect(slot->relay, (uintptr_t)slot->relay, (uintptr_t)&slot->relay_to);
  s->target = target;
  s->patch = target + s->reloc.skip;
  s->patch_len = patch_len;
  s->slot = slot;
  s->patched = false;
  s->prot = os_prot_of(s->patch);
  s->prot_end = os_prot_of(s->patch + patch_len - 1);
  memcpy(s->saved, s->patch, patch_len);
  /* the relay must be in reach of the patch, whatever the detours */
  if (patch_len == HOOK_PATCH_LEN &&
      !hook_emit_patch(s->written, (uintptr_t)s->patch, (uintptr_t)slot->relay)) {
    hook_slot_free(slot);
    s->target = NULL;
    return RH_ERR_NO_NEAR_MEMORY;
  }
  memset(s->chain, 0, sizeof s->chain);
  *out = s;
  return RH_OK;
}

static void site_close(hook_site_t *s) {
  hook_slot_free(s->slot);
  memset(s, 0, sizeof *s);
}

/* Points the relay and every onward jump of a site at what each must reach now. */
void hook_chain_rebuild(hook_site_t *s) {
  uintptr_t code = (uintptr_t)s->slot->code;
  uintptr_t newest = code;
  unsigned long newest_seq = 0;
  for (unsigned i = 0; i < HOOK_CHAIN_MAX; i++) {
    rh_hook_t *h = s->chain[i];
    if (h == NULL) continue;
    /* the next older enabled hook, or the function itself */
    uintptr_t next = code;
    unsigned long best = 0;
    for (unsigned j = 0; j < HOOK_CHAIN_MAX; j++) {
      rh_hook_t *o = s->chain[j];
      if (o != NULL && o->enabled && o->seq < h->seq && o->seq >= best) {
        best = o->seq;
        next = (uintptr_t)o->detour;
      }
    }
    atomic_store_explicit(&s->slot->onward_to[i], next, memory_order_release);
    if (h->enabled && h->seq >= newest_seq) {
      newest_seq = h->seq;
      newest = (uintptr_t)h->detour;
    }
  }
  atomic_store_explicit(&s->slot->relay_to, newest, memory_order_release);
}

bool hook_site_any_enabled(const hook_site_t *s) {
  for (unsigned i = 0; i < HOOK_CHAIN_MAX; i++)
    if (s->chain[i] != NULL && s->chain[i]->enabled) return true;
  return false;
}

static bool site_empty(const hook_site_t *s) {
  for (unsigned i = 0; i < HOOK_CHAIN_MAX; i++)
    if (s->chain[i] != NULL) return false;
  return true;
}

rh_status_t rh_hook_create_ex(void *target, void *detour, const rh_hook_options_t *options,
                              void **original, rh_hook_t **out) {
  if (target == NULL || detour == NULL || original == NULL || out == NULL) return RH_ERR_ARGS;
  if (options != NULL && options->expect != NULL && options->expect_len != 0) {
    if (os_prot_of(target) < 0 || os_prot_of((uint8_t *)target + options->expect_len - 1) < 0)
      return RH_ERR_ARGS;
    if (memcmp(target, options->expect, options->expect_len) != 0) return RH_ERR_BYTES_DIFFER;
  }
  /* readable, at least (emulators such as qemu-user report guest code
   * without the execute bit, so that bit proves nothing) */
  int prot = os_prot_of(target);
  if (prot < 0 || !(prot & OS_PROT_READ)) return RH_ERR_ARGS;
  os_lock(&engine_lock);
  rh_status_t st = RH_OK;
  hook_site_t *s = site_find(target);
  bool opened = false;
  if (s == NULL) {
    st = site_open(target, &s);
    opened = st == RH_OK;
  }
  rh_hook_t *h = NULL;
  unsigned seat = HOOK_CHAIN_MAX;
  if (st == RH_OK) {
    for (unsigned i = 0; i < HOOK_CHAIN_MAX && seat == HOOK_CHAIN_MAX; i++)
      if (s->chain[i] == NULL) seat = i;
    for (size_t i = 0; i < HOOKS_MAX && h == NULL; i++)
      if (!hooks[i].used) h = &hooks[i];
    if (seat == HOOK_CHAIN_MAX || h == NULL) st = RH_ERR_NO_MEMORY;
  }
  if (st == RH_OK) {
    *h = (rh_hook_t){true, RH_HOOK_INLINE, s, NULL, target, detour, seat, ++next_seq, false};
    s->chain[seat] = h;
    hook_emit_jmp_indirect(s->slot->onward[seat], (uintptr_t)s->slot->onward[seat],
                           (uintptr_t)&s->slot->onward_to[seat]);
    hook_chain_rebuild(s);
    *original = s->slot->onward[seat];
    *out = h;
  } else if (opened) {
    site_close(s);
  }
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_hook_create(void *target, void *detour, void **original, rh_hook_t **out) {
  return rh_hook_create_ex(target, detour, NULL, original, out);
}

static rh_status_t switch_got(rh_hook_t *h, bool on) {
  rh_status_t st = on ? hook_got_apply(h->got, h->detour) : hook_got_remove(h->got, h->detour);
  if (st == RH_OK) h->enabled = on;
  return st;
}

/* Switches every hook of the list on (or off) or, on any failure, none. */
static rh_status_t switch_locked(rh_hook_t *const *list, size_t n, bool on) {
  if (list == NULL && n != 0) return RH_ERR_ARGS;
  for (size_t i = 0; i < n; i++) {
    if (list[i] == NULL || !list[i]->used) return RH_ERR_ARGS;
    if (list[i]->enabled == on) return RH_ERR_STATE;
    for (size_t j = 0; j < i; j++)
      if (list[j] == list[i]) return RH_ERR_STATE;
  }
  rh_status_t st = hook_switch_inline(list, n, on);
  if (st != RH_OK) return st;
  size_t done = 0;
  for (; done < n && st == RH_OK; done++)
    if (list[done]->kind == RH_HOOK_GOT) st = switch_got(list[done], on);
  if (st != RH_OK) {
    done--; /* the one that failed changed nothing */
    while (done-- > 0)
      if (list[done]->kind == RH_HOOK_GOT) (void)switch_got(list[done], !on);
    (void)hook_switch_inline(list, n, !on);
    return st;
  }
  enabled_count = on ? enabled_count + n : enabled_count - n;
  return RH_OK;
}

rh_status_t rh_hook_enable(rh_hook_t *h) {
  os_lock(&engine_lock);
  rh_status_t st = switch_locked(&h, 1, true);
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_hook_disable(rh_hook_t *h) {
  os_lock(&engine_lock);
  rh_status_t st = switch_locked(&h, 1, false);
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_hook_destroy(rh_hook_t *h) {
  if (h == NULL || !h->used) return RH_ERR_ARGS;
  os_lock(&engine_lock);
  rh_status_t st = RH_OK;
  if (h->enabled) st = switch_locked(&h, 1, false);
  if (st == RH_OK && h->kind == RH_HOOK_GOT) {
    got_used[h->got - gots] = false;
    memset(h, 0, sizeof *h);
  } else if (st == RH_OK) {
    hook_site_t *s = h->site;
    s->chain[h->seat] = NULL;
    memset(h, 0, sizeof *h);
    if (site_empty(s)) {
      /* threads still inside the slot are moved out before it is freed */
      if (hook_batch_close(s)) site_close(s);
      else st = RH_ERR_THREADS; /* the slot stays: freeing it could crash a thread */
    } else {
      hook_chain_rebuild(s);
    }
  }
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_hook_enable_all(rh_hook_t *const *list, size_t n) {
  os_lock(&engine_lock);
  rh_status_t st = switch_locked(list, n, true);
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_hook_disable_all(rh_hook_t *const *list, size_t n) {
  os_lock(&engine_lock);
  rh_status_t st = switch_locked(list, n, false);
  os_unlock(&engine_lock);
  return st;
}

size_t rh_hook_count(void) {
  os_lock(&engine_lock);
  size_t n = enabled_count;
  os_unlock(&engine_lock);
  return n;
}

size_t rh_hook_list(rh_hook_info_t *out, size_t max) {
  os_lock(&engine_lock);
  size_t n = 0;
  for (size_t i = 0; i < HOOKS_MAX; i++) {
    const rh_hook_t *h = &hooks[i];
    if (!h->used) continue;
    if (out != NULL && n < max) out[n] = (rh_hook_info_t){h->target, h->detour, h->kind, h->enabled};
    n++;
  }
  os_unlock(&engine_lock);
  return n;
}

static rh_status_t got_create(const char *symbol, void *detour, const char *module, rh_module_filter_fn filter,
                              void *arg, void **original, rh_hook_t **out) {
  if (symbol == NULL || detour == NULL || original == NULL || out == NULL) return RH_ERR_ARGS;
  os_lock(&engine_lock);
  hook_got_t *g = NULL;
  rh_hook_t *h = NULL;
  for (size_t i = 0; i < GOTS_MAX && g == NULL; i++)
    if (!got_used[i]) g = &gots[i];
  for (size_t i = 0; i < HOOKS_MAX && h == NULL; i++)
    if (!hooks[i].used) h = &hooks[i];
  rh_status_t st = g == NULL || h == NULL ? RH_ERR_NO_MEMORY : hook_got_prepare(g, symbol, module, filter, arg);
  void *def = os_symbol_lookup(symbol);
  if (st == RH_OK && def == NULL && filter == NULL) st = RH_ERR_NOT_FOUND; /* (filtered: it may come later) */
  if (st == RH_OK) {
    got_used[g - gots] = true;
    *h = (rh_hook_t){true, RH_HOOK_GOT, NULL, g, def, detour, 0, ++next_seq, false};
    *original = def;
    *out = h;
  }
  os_unlock(&engine_lock);
  return st;
}

rh_status_t rh_got_hook_create(const char *symbol, void *detour, const char *module, void **original,
                               rh_hook_t **out) {
  return got_create(symbol, detour, module, NULL, NULL, original, out);
}

rh_status_t rh_got_hook_create_filtered(const char *symbol, void *detour, rh_module_filter_fn filter, void *arg,
                                        void **original, rh_hook_t **out) {
  if (filter == NULL) return RH_ERR_ARGS;
  return got_create(symbol, detour, NULL, filter, arg, original, out);
}

size_t rh_hook_forget_unloaded(void) {
  os_lock(&engine_lock);
  size_t n = 0;
  for (size_t i = 0; i < HOOKS_MAX; i++)
    if (hooks[i].used && hooks[i].kind == RH_HOOK_GOT) n += hook_got_forget_gone(hooks[i].got);
  os_unlock(&engine_lock);
  return n;
}

rh_status_t rh_hook_refresh(void) {
  os_lock(&engine_lock);
  rh_status_t st = RH_OK;
  for (size_t i = 0; i < HOOKS_MAX && st == RH_OK; i++)
    if (hooks[i].used && hooks[i].kind == RH_HOOK_GOT && hooks[i].enabled)
      st = hook_got_apply(hooks[i].got, hooks[i].detour);
  os_unlock(&engine_lock);
  return st;
}
