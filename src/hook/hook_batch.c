/* Writing and unwriting the patches of inline hooks, with the other
 * threads stopped: every site a switch changes is written in one stop, all
 * or none, and a thread stopped in bytes that change is moved to the same
 * instruction where it will run now. Called from hook.c, under its lock. */
#include <string.h>

#include "hook/hook_internal.h"
#include "os/os.h"

/* One site's change in a batch: the bytes it must hold now, the bytes to
 * write, and whether it is patched afterwards. */
typedef struct batch_entry {
  hook_site_t *site;
  bool write;
  bool patched_before;
  bool patched_after;
  uint8_t from[HOOK_PATCH_FAR_LEN];
  uint8_t to[HOOK_PATCH_FAR_LEN];
} batch_entry_t;

typedef struct batch {
  batch_entry_t e[HOOK_SITES_MAX];
  size_t n;
  bool close; /* the sites' slots are about to be freed */
  rh_status_t status;
} batch_t;

/* Runs once the bytes are written, the threads still stopped: a thread
 * stopped in bytes just replaced goes to the same instruction in the
 * trampoline, and one stopped in the trampoline of a function just put back
 * goes to the same instruction in the function (past its first); one in a
 * slot about to be freed goes back to the function, or, in a relay or
 * onward jump, to where it leads. Nothing moves if the writing failed. */
static void batch_fix_ip(uintptr_t *ip, void *arg) {
  batch_t *b = arg;
  if (b->status != RH_OK) return;
  for (size_t i = 0; i < b->n; i++) {
    batch_entry_t *e = &b->e[i];
    hook_site_t *s = e->site;
    uintptr_t patch = (uintptr_t)s->patch, code = (uintptr_t)s->slot->code;
    bool entering = e->write && !e->patched_before && e->patched_after;
    bool leaving = (e->write && e->patched_before && !e->patched_after) || b->close;
    if (entering && *ip > patch && *ip < patch + s->reloc.stolen) {
      long to = hook_reloc_map(&s->reloc, *ip - patch);
      if (to >= 0) *ip = code + (uintptr_t)to;
    }
    if (leaving && *ip >= code && *ip < code + s->reloc.code_len) {
      size_t off = *ip - code;
      if (off == s->reloc.back_off) *ip = patch + s->reloc.stolen;
      /* Not to the first instruction, though, unless the slot goes: a
       * thread there is inside an "original" call, and if the function
       * were hooked again before it moved on, it would enter the detour a
       * second time. Left in the trampoline, it runs the same code. */
      for (size_t k = 0; k < s->reloc.insn_count; k++)
        if (s->reloc.new_off[k] == off && (s->reloc.old_off[k] != 0 || b->close))
          *ip = patch + s->reloc.old_off[k];
    }
    if (!b->close) continue;
    if (*ip == (uintptr_t)s->slot->relay) *ip = atomic_load(&s->slot->relay_to);
    for (unsigned k = 0; k < HOOK_CHAIN_MAX; k++)
      if (*ip == (uintptr_t)s->slot->onward[k]) *ip = atomic_load(&s->slot->onward_to[k]);
  }
}

static void batch_work(void *arg) {
  batch_t *b = arg;
  size_t done = 0;
  b->status = RH_OK;
  for (; done < b->n; done++) {
    batch_entry_t *e = &b->e[done];
    hook_site_t *s = e->site;
    if (!e->write) continue;
    if (memcmp(s->patch, e->from, s->patch_len) != 0) {
      b->status = s->patched ? RH_ERR_MODIFIED : RH_ERR_BYTES_DIFFER;
      break;
    }
    b->status = hook_write_code(s->patch, e->to, s->patch_len, s->prot, s->prot_end);
    if (b->status != RH_OK) break;
  }
  if (b->status != RH_OK) {
    /* all or none: what was written goes back */
    while (done-- > 0) {
      batch_entry_t *e = &b->e[done];
      if (e->write)
        (void)hook_write_code(e->site->patch, e->from, e->site->patch_len, e->site->prot,
                              e->site->prot_end);
    }
    return;
  }
  for (size_t i = 0; i < b->n; i++) {
    batch_entry_t *e = &b->e[i];
    if (!e->write) continue;
    e->site->patched = e->patched_after;
    if (e->patched_after) memcpy(e->site->written, e->to, e->site->patch_len);
  }
}

static rh_status_t batch_run(batch_t *b) {
  if (b->n == 0) return RH_OK;
  b->status = RH_ERR_THREADS;
  if (!os_stop_world(batch_work, batch_fix_ip, b)) return RH_ERR_THREADS;
  return b->status;
}

/* The jump a site's entry must hold for its enabled hooks: straight to the
 * detour when there is one and it is in reach, else to the relay, which
 * leads along the chain. */
static void site_jump(hook_site_t *s, uint8_t *out) {
  rh_hook_t *only = NULL;
  unsigned count = 0;
  for (unsigned i = 0; i < HOOK_CHAIN_MAX; i++)
    if (s->chain[i] != NULL && s->chain[i]->enabled) {
      only = s->chain[i];
      count++;
    }
  uintptr_t relay = (uintptr_t)s->slot->relay;
  if (s->patch_len == HOOK_PATCH_FAR_LEN) {
    hook_emit_jmp_abs(out, count == 1 ? (uintptr_t)only->detour : relay);
    return;
  }
  if (count == 1 && hook_emit_patch(out, (uintptr_t)s->patch, (uintptr_t)only->detour)) return;
  hook_emit_patch(out, (uintptr_t)s->patch, relay); /* in reach: checked when the site opened */
}

/* What site s must change now that its hooks' flags changed, if anything. */
static void batch_plan(batch_t *b, hook_site_t *s) {
  for (size_t i = 0; i < b->n; i++)
    if (b->e[i].site == s) return;
  batch_entry_t *e = &b->e[b->n];
  e->site = s;
  e->write = true;
  e->patched_before = s->patched;
  if (hook_site_any_enabled(s)) {
    site_jump(s, e->to);
    e->patched_after = true;
    if (!s->patched) memcpy(e->from, s->saved, s->patch_len);
    else if (memcmp(s->written, e->to, s->patch_len) != 0) memcpy(e->from, s->written, s->patch_len);
    else return; /* the jump already goes where it must */
  } else {
    if (!s->patched) return;
    memcpy(e->from, s->written, s->patch_len);
    memcpy(e->to, s->saved, s->patch_len);
    e->patched_after = false;
  }
  b->n++;
}

/* The inline hooks of a list, switched together: chains first, then one
 * stop of the other threads for every patch that must be written. */
rh_status_t hook_switch_inline(rh_hook_t *const *list, size_t n, bool on) {
  static batch_t b; /* under engine_lock */
  b.n = 0;
  b.close = false;
  for (size_t i = 0; i < n; i++)
    if (list[i]->kind == RH_HOOK_INLINE) list[i]->enabled = on;
  for (size_t i = 0; i < n; i++)
    if (list[i]->kind == RH_HOOK_INLINE) hook_chain_rebuild(list[i]->site);
  for (size_t i = 0; i < n; i++)
    if (list[i]->kind == RH_HOOK_INLINE) batch_plan(&b, list[i]->site);
  rh_status_t st = batch_run(&b);
  for (size_t i = 0; i < n; i++) {
    if (list[i]->kind != RH_HOOK_INLINE) continue;
    if (st != RH_OK) list[i]->enabled = !on;
    hook_chain_rebuild(list[i]->site);
  }
  return st;
}

static void batch_work_none(void *arg) { (void)arg; }

/* Threads still inside site s's slot are moved out, before it is freed:
 * false if the other threads could not be stopped. */
bool hook_batch_close(hook_site_t *s) {
  static batch_t b;
  b.n = 1;
  b.e[0].site = s;
  b.e[0].write = false;
  b.close = true;
  b.status = RH_OK;
  return os_stop_world(batch_work_none, batch_fix_ip, &b);
}
