// Run under libreheap.so: C++'s operator new/delete family reaches reheap in
// every form, and its failure semantics (new_handler, bad_alloc, nothrow)
// are the standard's.
#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#define CHECK(e)                                                                  \
  do {                                                                            \
    if (!(e)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

using owns_fn = bool (*)(const void *);
static owns_fn owns;

struct alignas(128) Wide {
  char bytes[200];
};

static int handler_calls;
static void handler() {
  if (++handler_calls == 3) std::set_new_handler(nullptr);
}

int main() {
  owns = reinterpret_cast<owns_fn>(dlsym(RTLD_DEFAULT, "rh_owns"));
  CHECK(owns != nullptr);

  int *one = new int(7);
  CHECK(owns(one));
  delete one;  // sized delete with -fsized-deallocation
  int *many = new int[1000];
  CHECK(owns(many));
  delete[] many;
  Wide *w = new Wide;
  CHECK(owns(w) && reinterpret_cast<uintptr_t>(w) % 128 == 0);
  delete w;
  Wide *ws = new Wide[5];
  CHECK(owns(ws) && reinterpret_cast<uintptr_t>(ws) % 128 == 0);
  delete[] ws;
  void *nt = ::operator new(64, std::nothrow);
  CHECK(nt != nullptr && owns(nt));
  ::operator delete(nt, std::nothrow);
  void *al = ::operator new(100, std::align_val_t(4096));
  CHECK(owns(al) && reinterpret_cast<uintptr_t>(al) % 4096 == 0);
  ::operator delete(al, 100, std::align_val_t(4096));

  // containers and strings in several threads, freed on others
  std::vector<std::unique_ptr<std::map<int, std::string>>> maps;
  std::vector<std::thread> threads;
  std::vector<std::unique_ptr<std::map<int, std::string>>> made(4);
  for (int t = 0; t < 4; t++)
    threads.emplace_back([t, &made] {
      auto m = std::make_unique<std::map<int, std::string>>();
      for (int i = 0; i < 20000; i++) (*m)[i] = std::string(static_cast<size_t>(i % 90), 'a' + t);
      made[static_cast<size_t>(t)] = std::move(m);
    });
  for (auto &th : threads) th.join();
  for (int t = 0; t < 4; t++) {
    auto &m = *made[static_cast<size_t>(t)];
    CHECK(m.size() == 20000 && m[89].size() == 89 && m[89][0] == 'a' + t);
  }
  made.clear();

  // failure: nothrow gives null, throwing new calls the handler, then throws
  volatile size_t huge = SIZE_MAX / 4;
  CHECK(::operator new(huge, std::nothrow) == nullptr);
  CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
  bool thrown = false;
  try {
    void *p = ::operator new(huge);
    std::printf("%p\n", p);
  } catch (const std::bad_alloc &) {
    thrown = true;
  }
  CHECK(thrown);
  std::set_new_handler(handler);
  thrown = false;
  try {
    void *p = ::operator new[](huge);
    std::printf("%p\n", p);
  } catch (const std::bad_alloc &) {
    thrown = true;
  }
  CHECK(thrown && handler_calls == 3);
  std::puts("preload_cxx: ok");
  return 0;
}
