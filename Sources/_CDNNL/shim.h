// What Swift cannot import from <oneapi/dnnl/dnnl.h> directly, as static inline helpers.
#ifndef STRATA_CDNNL_SHIM_H
#define STRATA_CDNNL_SHIM_H

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <dlfcn.h>
#include <stdint.h>

/// DNNL_MEMORY_ALLOCATE is `(void *)-1`: a cast macro, which Swift does not import.
static inline void *strata_dnnl_memory_allocate(void) { return DNNL_MEMORY_ALLOCATE; }

/// DNNL_RUNTIME_DIM_VAL is INT64_MIN through a macro Swift does not import.
static inline int64_t strata_dnnl_runtime_dim_val(void) { return DNNL_RUNTIME_DIM_VAL; }

// oneDNN's CPU runtime here is OpenMP (libgomp, loaded by libdnnl). Its thread count can
// only be changed through the OpenMP API: OMP_NUM_THREADS is read once, when libgomp loads,
// which is before any Swift code runs. The symbols are looked up at run time so that no
// link against libgomp's development symlink is needed.
typedef void (*strata_omp_set_fn)(int);
typedef int (*strata_omp_get_fn)(void);

/// omp_set_num_threads(n) on the calling thread; returns 0 when OpenMP is not loaded.
static inline int strata_omp_set_num_threads(int n) {
    static strata_omp_set_fn fn = 0;
    if (!fn) fn = (strata_omp_set_fn)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!fn) return 0;
    fn(n);
    return 1;
}

/// omp_get_max_threads() for the calling thread; 0 when OpenMP is not loaded.
static inline int strata_omp_get_max_threads(void) {
    static strata_omp_get_fn fn = 0;
    if (!fn) fn = (strata_omp_get_fn)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    return fn ? fn() : 0;
}

#endif
