/* Internal: the degree-5 minimax polynomial of 2^f for f in [-1/2, 1/2] (relative error 2.4e-7) behind the f32
 * SIMD exp kernels (attention forward, routers), as one Horner chain for any vector type: FMA(a, b, c) computes
 * a*b + c and SET1 broadcasts a float. Callers scale the result by 2^n. */
#ifndef MOONLAB_CORE_EXP2_POLY_H
#define MOONLAB_CORE_EXP2_POLY_H

#define ML_EXP2_POLY5(FMA, SET1, f)                                                                            \
    FMA(FMA(FMA(FMA(FMA(SET1(1.327647129073739e-3f), f, SET1(9.675540961325169e-3f)), f,                       \
                    SET1(5.550713092088699e-2f)),                                                              \
                f, SET1(2.4022120237350464e-1f)),                                                              \
            f, SET1(6.931469440460205e-1f)),                                                                   \
        f, SET1(1.0000001192092896f))

#endif
