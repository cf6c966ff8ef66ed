/* moonlab — the complex double of the public API, usable from C and C++.
 * In C it is `double _Complex`; in C++ `std::complex<double>`, which has the same layout
 * (C++ [complex.numbers] requires array-of-two-doubles compatibility), so C++ callers pass
 * std::complex<double> arrays and callbacks directly. */
#ifndef MOONLAB_CPLX_H
#define MOONLAB_CPLX_H

#ifdef __cplusplus
#include <complex>
typedef std::complex<double> ml_complex;
#else
#include <complex.h>
typedef double _Complex ml_complex;
#endif

#endif
