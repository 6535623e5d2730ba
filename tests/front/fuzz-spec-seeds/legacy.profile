# The test's legacy allocator (liblegacy_heap.so), every function of it
liblegacy_heap.so!lh_alloc   malloc(size)
liblegacy_heap.so!lh_free    free(ptr)
lh_size                      usable_size(ptr)
lh_realloc                   realloc(ptr,size)
lh_heap_alloc                malloc(_,size)     # a method: the heap object first
lh_heap_free                 free(_,ptr)
