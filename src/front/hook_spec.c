/* The hook-spec parser (docs/hook-spec.md is the grammar). Every error
 * names its line and column and says what would be right; a profile with
 * any error is refused whole, since a takeover that patched the free but
 * not the malloc of one heap would wreck the program. */
#include "front/hook_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct cursor {
  const char *s;
  size_t len, i;
  unsigned line;
  spec_error_t *err;
} cursor_t;

static const char *const role_names[] = {"malloc",     "calloc",      "realloc",    "free",
                                         "usable_size", "memalign",   "scrap_init", "scrap_alloc",
                                         "scrap_free",  "scrap_purge"};
static const char *const conv_names[] = {"default", "cdecl", "stdcall", "fastcall", "thiscall"};
static const char *const arg_names[] = {"_", "size", "count", "ptr", "align", "heap"};

/* The named arguments each role takes, each exactly once (in any place). */
static const unsigned role_needs[] = {
    [SPEC_ROLE_MALLOC] = 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_CALLOC] = 1u << SPEC_ARG_COUNT | 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_REALLOC] = 1u << SPEC_ARG_PTR | 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_FREE] = 1u << SPEC_ARG_PTR,
    [SPEC_ROLE_USABLE_SIZE] = 1u << SPEC_ARG_PTR,
    [SPEC_ROLE_MEMALIGN] = 1u << SPEC_ARG_ALIGN | 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_SCRAP_INIT] = 1u << SPEC_ARG_HEAP,
    [SPEC_ROLE_SCRAP_ALLOC] = 1u << SPEC_ARG_HEAP | 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_SCRAP_FREE] = 1u << SPEC_ARG_HEAP | 1u << SPEC_ARG_PTR,
    [SPEC_ROLE_SCRAP_PURGE] = 1u << SPEC_ARG_HEAP,
};
/* and those it may take as well: a scrap heap's initial size (a hint) and
 * a scrap block's alignment */
static const unsigned role_may[SPEC_ROLE_SCRAP_PURGE + 1] = {
    [SPEC_ROLE_SCRAP_INIT] = 1u << SPEC_ARG_SIZE,
    [SPEC_ROLE_SCRAP_ALLOC] = 1u << SPEC_ARG_ALIGN,
};
static const char *const role_forms[] = {
    "malloc(size)",    "calloc(count,size)",   "realloc(ptr,size)",
    "free(ptr)",       "usable_size(ptr)",     "memalign(align,size)",
    "scrap_init(heap) or scrap_init(heap,size)", "scrap_alloc(heap,size) or scrap_alloc(heap,size,align)",
    "scrap_free(heap,ptr)", "scrap_purge(heap)",
};
_Static_assert(sizeof role_names / sizeof *role_names == SPEC_ROLE_SCRAP_PURGE + 1, "a name for every role");
_Static_assert(sizeof role_forms / sizeof *role_forms == SPEC_ROLE_SCRAP_PURGE + 1, "a form for every role");

const char *spec_role_name(spec_role_t role) { return role_names[role]; }
const char *spec_conv_name(spec_conv_t conv) { return conv_names[conv]; }

__attribute__((format(printf, 3, 4))) static bool fail(cursor_t *c, size_t at, const char *fmt, ...) {
  c->err->line = c->line;
  c->err->col = (unsigned)at + 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err->message, sizeof c->err->message, fmt, ap);
  va_end(ap);
  return false;
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t'; }
static bool at_end(const cursor_t *c) { return c->i >= c->len; }
static void skip_space(cursor_t *c) {
  while (!at_end(c) && is_space(c->s[c->i])) c->i++;
}
static bool is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static int hex_value(char ch) {
  if (is_digit(ch)) return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* C names, C++ mangled names (Itanium _Z..., MSVC ?name@@...) and
 * versioned ones (name@VERSION). */
static bool is_symbol_char(char ch) {
  return is_alpha(ch) || is_digit(ch) || ch == '_' || ch == '$' || ch == '.' || ch == '@' || ch == '?';
}

static bool valid_symbol(const char *s, size_t n) {
  if (n == 0 || is_digit(s[0])) return false;
  for (size_t k = 0; k < n; k++)
    if (!is_symbol_char(s[k])) return false;
  return true;
}

/* 0xHEX or DECIMAL, the whole of [s, s+n); false if not a number or too big. */
static bool parse_number(const char *s, size_t n, bool hex_only, uint64_t *out) {
  uint64_t v = 0;
  if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    if (n - 2 > 16) return false;
    for (size_t k = 2; k < n; k++) {
      int d = hex_value(s[k]);
      if (d < 0) return false;
      v = v << 4 | (uint64_t)d;
    }
  } else {
    if (hex_only || n == 0) return false;
    for (size_t k = 0; k < n; k++) {
      if (!is_digit(s[k]) || v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + (uint64_t)(s[k] - '0');
    }
  }
  *out = v;
  return true;
}

static bool copy_name(cursor_t *c, size_t at, char *dst, const char *src, size_t n, const char *what) {
  if (n >= SPEC_NAME_MAX) return fail(c, at, "the %s is longer than %d characters", what, SPEC_NAME_MAX - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
  return true;
}

/* A byte of a pattern: two hex digits, or ?? for any. */
static bool pattern_byte(const char *w, uint8_t *v, uint8_t *any) {
  *any = w[0] == '?' && w[1] == '?';
  if (!*any && (hex_value(w[0]) < 0 || hex_value(w[1]) < 0)) return false;
  *v = *any ? 0 : (uint8_t)(hex_value(w[0]) << 4 | hex_value(w[1]));
  return true;
}

/* sig:MODULE:BYTES: the bytes run on, a word of them at a time (55 8B EC,
 * or 558BEC), up to the role */
static bool parse_signature(cursor_t *c, spec_t *out, size_t at) {
  size_t i = at + 4, m = i;
  while (m < c->len && c->s[m] != ':' && !is_space(c->s[m])) m++;
  if (m == i || m >= c->len || c->s[m] != ':')
    return fail(c, i, "a module expected after sig: (write sig:MODULE:55 8B EC ?? ..., such as sig:game:55 8B EC)");
  if (!copy_name(c, i, out->module, c->s + i, m - i, "module name")) return false;
  out->kind = SPEC_TARGET_SIGNATURE;
  size_t word = m + 1;
  while (word < c->len && is_space(c->s[word])) word++; /* sig:game: 55 8B EC reads as well */
  for (;;) {
    size_t end = word;
    while (end < c->len && !is_space(c->s[end])) end++;
    size_t n = end - word;
    bool bytes = n >= 2 && n % 2 == 0;
    for (size_t k = 0; bytes && k < n; k += 2) {
      uint8_t v, any;
      bytes = pattern_byte(c->s + word + k, &v, &any);
    }
    if (!bytes) {
      if (out->nsig == 0)
        return fail(c, word, "sig: needs the function's bytes in hex after the module, such as "
                    "sig:%s:55 8B EC ?? 51 (?? for a byte that varies)", out->module);
      break; /* the role starts here */
    }
    for (size_t k = 0; k < n; k += 2) {
      if (out->nsig == SPEC_SIG_MAX) return fail(c, word + k, "more than %d bytes in a signature", SPEC_SIG_MAX);
      pattern_byte(c->s + word + k, &out->sig[out->nsig], &out->sig_any[out->nsig]);
      out->nsig++;
    }
    c->i = end;
    while (end < c->len && is_space(c->s[end])) end++;
    if (end >= c->len) break;
    word = end;
  }
  size_t fixed = 0;
  for (size_t k = 0; k < out->nsig; k++) fixed += !out->sig_any[k];
  if (fixed < 4 || out->sig_any[0])
    return fail(c, m + 1, "a signature needs at least 4 fixed bytes and must start with one (?? may not come "
                "first): a shorter one matches all over the code");
  return true;
}

static bool parse_target(cursor_t *c, spec_t *out) {
  /* *TARGET: the function pointer stored there, not code */
  out->slot = !at_end(c) && c->s[c->i] == '*';
  if (out->slot) {
    c->i++;
    if (at_end(c) || is_space(c->s[c->i]))
      return fail(c, c->i, "a target expected after '*' (the place a function pointer is stored)");
  }
  size_t at = c->i;
  if (c->len - at >= 4 && memcmp(c->s + at, "sig:", 4) == 0) {
    if (out->slot) return fail(c, at - 1, "a signature finds code, not a pointer: leave out the '*'");
    return parse_signature(c, out, at);
  }
  while (!at_end(c) && !is_space(c->s[c->i])) c->i++;
  const char *t = c->s + at;
  size_t n = c->i - at;
  const char *bang = memchr(t, '!', n);
  if (bang != NULL) {
    size_t mn = (size_t)(bang - t), sn = n - mn - 1;
    if (mn == 0) return fail(c, at, "no module before '!' (write MODULE!SYMBOL, such as libgame.so!pool_alloc)");
    if (!valid_symbol(bang + 1, sn))
      return fail(c, at + mn + 1, "'%.*s' is not a symbol name (letters, digits, _ $ . @ ?, not starting with a digit)",
                  (int)sn, bang + 1);
    out->kind = SPEC_TARGET_MODULE_SYMBOL;
    return copy_name(c, at, out->module, t, mn, "module name") &&
           copy_name(c, at + mn + 1, out->symbol, bang + 1, sn, "symbol name");
  }
  if (n > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    if (!parse_number(t, n, true, &out->address) || out->address == 0)
      return fail(c, at, "'%.*s' is not an address (write 0x and up to 16 hex digits)", (int)n, t);
    out->kind = SPEC_TARGET_ADDRESS;
    return true;
  }
  /* module+offset: the last '+' (a module may be libstdc++.so.6) */
  for (size_t k = n; k-- > 0;) {
    if (t[k] != '+') continue;
    if (k == 0) return fail(c, at, "no module before '+' (write MODULE+0xOFFSET)");
    if (!parse_number(t + k + 1, n - k - 1, false, &out->address))
      return fail(c, at + k + 1, "'%.*s' is not an offset (write 0xHEX or a decimal number)", (int)(n - k - 1),
                  t + k + 1);
    out->kind = SPEC_TARGET_MODULE_OFFSET;
    return copy_name(c, at, out->module, t, k, "module name");
  }
  if (!valid_symbol(t, n))
    return fail(c, at, "'%.*s' is not a target (a symbol, MODULE!SYMBOL, 0xADDRESS, MODULE+0xOFFSET or sig:MODULE:BYTES)",
                (int)n, t);
  out->kind = SPEC_TARGET_SYMBOL;
  return copy_name(c, at, out->symbol, t, n, "symbol name");
}

static bool parse_role(cursor_t *c, spec_t *out) {
  size_t at = c->i;
  while (!at_end(c) && (is_alpha(c->s[c->i]) || c->s[c->i] == '_')) c->i++;
  size_t n = c->i - at;
  for (size_t r = 0; r < sizeof role_names / sizeof role_names[0]; r++) {
    if (strlen(role_names[r]) == n && memcmp(role_names[r], c->s + at, n) == 0) {
      out->role = (spec_role_t)r;
      if (at_end(c) || c->s[c->i] != '(')
        return fail(c, c->i, "'(' expected after the role (write %s)", role_forms[r]);
      return true;
    }
  }
  size_t word = at;
  while (word < c->len && !is_space(c->s[word]) && c->s[word] != '(') word++;
  return fail(c, at, "'%.*s' is not a role (roles: malloc, calloc, realloc, free, usable_size, memalign, "
              "scrap_init, scrap_alloc, scrap_free, scrap_purge)",
              (int)(word - at), c->s + at);
}

static bool parse_args(cursor_t *c, spec_t *out, spec_arch_t arch) {
  size_t open = c->i++; /* '(' */
  unsigned seen = 0;
  for (;;) {
    skip_space(c);
    size_t at = c->i;
    while (!at_end(c) && (is_alpha(c->s[c->i]) || c->s[c->i] == '_' || is_digit(c->s[c->i]))) c->i++;
    size_t n = c->i - at;
    /* size32: a size of 32 bits (C's unsigned int) in a 64-bit register,
     * whose upper half the caller need not have cleared */
    if (n == 6 && memcmp(c->s + at, "size32", 6) == 0) {
      if (arch == SPEC_ARCH_X86)
        return fail(c, at, "size32 is for 64-bit programs, whose registers are wider than a 32-bit size (write size)");
      out->size32 = true;
      n = 4;
    }
    if (n == 0) {
      if (!at_end(c) && c->s[c->i] == ')' && out->nargs == 0)
        return fail(c, at, "no arguments (write %s)", role_forms[out->role]);
      return fail(c, at, "an argument expected: size, count, ptr, align, heap or _");
    }
    int which = -1;
    for (size_t a = 0; a < sizeof arg_names / sizeof arg_names[0]; a++)
      if (strlen(arg_names[a]) == n && memcmp(arg_names[a], c->s + at, n) == 0) which = (int)a;
    if (which < 0) return fail(c, at, "'%.*s' is not an argument (size, size32, count, ptr, align, heap, or _ for one to ignore)",
                               (int)n, c->s + at);
    if (out->nargs == SPEC_ARGS_MAX) return fail(c, at, "more than %d arguments", SPEC_ARGS_MAX);
    if (which != SPEC_ARG_IGNORED) {
      if (!((role_needs[out->role] | role_may[out->role]) >> which & 1))
        return fail(c, at, "%s takes no '%s' (write %s, with _ for the arguments it ignores)",
                    role_names[out->role], arg_names[which], role_forms[out->role]);
      if (seen >> which & 1) return fail(c, at, "'%s' is placed twice", arg_names[which]);
      seen |= 1u << which;
    }
    out->args[out->nargs++] = (spec_arg_t)which;
    skip_space(c);
    if (at_end(c)) return fail(c, open, "this '(' is not closed");
    if (c->s[c->i] == ')') break;
    if (c->s[c->i] != ',') return fail(c, c->i, "',' or ')' expected");
    c->i++;
  }
  c->i++; /* ')' */
  /* a zeroing allocator of one size (an engine's calloc(1, n) wrapper) is
   * calloc(size): a count of 1 */
  bool zeroing_one = out->role == SPEC_ROLE_CALLOC && seen == 1u << SPEC_ARG_SIZE;
  if ((seen & ~role_may[out->role]) != role_needs[out->role] && !zeroing_one)
    return fail(c, open, "%s needs each of its arguments placed once (write %s, with _ for the ones it ignores)",
                role_names[out->role], role_forms[out->role]);
  return true;
}

/* expect= takes the words after it while they are bytes (two hex digits,
 * or ?? for any): "expect=55 8B EC". */
static bool parse_expect(cursor_t *c, spec_t *out, size_t at) {
  if (out->nexpect != 0) return fail(c, at, "expect= is given twice");
  size_t word = at + 7;
  for (;;) {
    size_t end = word;
    while (end < c->len && !is_space(c->s[end])) end++;
    const char *w = c->s + word;
    bool any = end - word == 2 && w[0] == '?' && w[1] == '?';
    bool byte = end - word == 2 && (any || (hex_value(w[0]) >= 0 && hex_value(w[1]) >= 0));
    if (!byte) {
      if (out->nexpect == 0)
        return fail(c, word, "expect= needs the function's first bytes in hex, such as expect=55 8B EC (?? for any)");
      return true; /* c->i is after the last byte: the next option starts here */
    }
    if (out->nexpect == SPEC_EXPECT_MAX) return fail(c, word, "more than %d expected bytes", SPEC_EXPECT_MAX);
    out->expect_any[out->nexpect] = any;
    out->expect[out->nexpect++] = any ? 0 : (uint8_t)(hex_value(w[0]) << 4 | hex_value(w[1]));
    c->i = end;
    while (end < c->len && is_space(c->s[end])) end++;
    if (end >= c->len) return true;
    word = end;
  }
}

static bool parse_options(cursor_t *c, spec_t *out, spec_arch_t arch) {
  bool conv_given = false;
  for (;;) {
    size_t before = c->i;
    skip_space(c);
    if (at_end(c)) return true;
    if (c->i == before) return fail(c, c->i, "a space expected before '%c'", c->s[c->i]);
    size_t at = c->i;
    if (c->len - at >= 7 && memcmp(c->s + at, "expect=", 7) == 0) {
      if (!parse_expect(c, out, at)) return false;
      continue;
    }
    while (!at_end(c) && !is_space(c->s[c->i])) c->i++;
    size_t n = c->i - at;
    int conv = -1;
    for (size_t k = 0; k < sizeof conv_names / sizeof conv_names[0]; k++)
      if (strlen(conv_names[k]) == n && memcmp(conv_names[k], c->s + at, n) == 0) conv = (int)k;
    if (conv < 0)
      return fail(c, at, "'%.*s' is neither a calling convention (cdecl, stdcall, fastcall, thiscall) nor expect=",
                  (int)n, c->s + at);
    if (conv_given) return fail(c, at, "a second calling convention");
    conv_given = true;
    if (arch != SPEC_ARCH_X86 && conv >= SPEC_CONV_STDCALL)
      return fail(c, at, "%s is a 32-bit x86 convention; on %s there is one (leave it out)", conv_names[conv],
                  arch == SPEC_ARCH_AARCH64 ? "aarch64" : "x86-64");
    out->conv = conv == SPEC_CONV_CDECL ? SPEC_CONV_DEFAULT : (spec_conv_t)conv;
  }
}

bool spec_parse_line(const char *text, size_t len, unsigned line, spec_arch_t arch, spec_t *out,
                     bool *is_spec, spec_error_t *err) {
  /* a comment runs to the end of the line */
  const char *hash = memchr(text, '#', len);
  if (hash != NULL) len = (size_t)(hash - text);
  while (len > 0 && (is_space(text[len - 1]) || text[len - 1] == '\r')) len--;
  cursor_t c = {text, len, 0, line, err};
  memset(out, 0, sizeof *out);
  out->line = line;
  *is_spec = false;
  skip_space(&c);
  if (at_end(&c)) return true;
  for (size_t k = c.i; k < len; k++)
    if ((unsigned char)text[k] < 0x20 && text[k] != '\t') return fail(&c, k, "a control character");
  if (!parse_target(&c, out)) return false;
  if (at_end(&c)) return fail(&c, c.i, "a role expected after the target, such as malloc(size)");
  skip_space(&c);
  if (!parse_role(&c, out) || !parse_args(&c, out, arch) || !parse_options(&c, out, arch)) return false;
  *is_spec = true;
  return true;
}

static bool same_target(const spec_t *a, const spec_t *b) {
  return a->kind == b->kind && a->address == b->address && strcmp(a->module, b->module) == 0 &&
         strcmp(a->symbol, b->symbol) == 0 && a->nsig == b->nsig && memcmp(a->sig, b->sig, a->nsig) == 0 &&
         memcmp(a->sig_any, b->sig_any, a->nsig) == 0;
}

bool spec_parse_profile(const char *text, size_t len, spec_arch_t arch, spec_profile_t *out, spec_error_t *err) {
  out->n = 0;
  unsigned line = 0;
  for (size_t start = 0; start <= len;) {
    const char *nl = memchr(text + start, '\n', len - start);
    size_t end = nl != NULL ? (size_t)(nl - text) : len;
    line++;
    spec_t spec;
    bool is_spec;
    if (!spec_parse_line(text + start, end - start, line, arch, &spec, &is_spec, err)) {
      out->n = 0;
      return false;
    }
    if (is_spec) {
      for (size_t k = 0; k < out->n; k++) {
        if (!same_target(&out->specs[k], &spec)) continue;
        err->line = line;
        err->col = 1;
        snprintf(err->message, sizeof err->message, "this target is hooked already, at line %u",
                 out->specs[k].line);
        out->n = 0;
        return false;
      }
      if (out->n == SPEC_PROFILE_MAX) {
        err->line = line;
        err->col = 1;
        snprintf(err->message, sizeof err->message, "more than %d specs in one profile", SPEC_PROFILE_MAX);
        out->n = 0;
        return false;
      }
      out->specs[out->n++] = spec;
    }
    if (nl == NULL) break;
    start = end + 1;
  }
  return true;
}
