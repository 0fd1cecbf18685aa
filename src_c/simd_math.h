/* Vector versions of the C maths functions (glibc's libmvec).
 *
 * Declaring a function `simd` lets gcc call its vector variant (e.g. _ZGVdN8v_expf: eight
 * floats per call with AVX2) in a vectorised loop, without -ffast-math. setup.py defines
 * REFNN_MVEC as the glibc version (e.g. 236 for 2.36) on x86-64 Linux and links libmvec;
 * elsewhere these declarations vanish and the scalar functions are used. libmvec's results
 * are within 4 ulp of the scalar functions' (tests hold the kernels to their twins).
 */
#ifndef REFNN_SIMD_MATH_H
#define REFNN_SIMD_MATH_H
#include <math.h>
#if defined(REFNN_MVEC) && defined(__GNUC__) && defined(__x86_64__)
__attribute__((simd("notinbranch"))) float expf(float);
__attribute__((simd("notinbranch"))) double exp(double);
#if REFNN_MVEC >= 235
__attribute__((simd("notinbranch"))) float tanhf(float);
__attribute__((simd("notinbranch"))) double tanh(double);
#endif
#endif
#endif
