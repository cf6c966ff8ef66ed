/* moonlab laplace — the suite transforms F(s), instantiated in double and quad precision by
 * suite.c. Expects CT (complex type), SFX(name), CSQRT, CEXP, CLOG, CATAN, CREAL, GAMMA, UNIT_I (undefined
 * again at the end).
 * Not a public header. */

static CT SFX(F)(int id, CT s) {
    switch (id) {
    case 0: return 1 / s;
    case 1: return 1 / (s * s);
    case 2: return 1 / (s * s * s);
    case 3: return 1 / (s + 1);
    case 4: return 1 / ((s + 1) * (s + 1));
    case 5: return 1 / (s * (s + 1));
    case 6: return 1 / (s - 0.5);
    case 7: return 1 / CSQRT(s);
    case 8: return 1 / (s * CSQRT(s));
    case 9: return -(GAMMA + CLOG(s)) / s;
    case 10: return CEXP(-2 * CSQRT(s)) / s;
    case 11: return CEXP(-CSQRT(s));
    case 12: return CLOG(1 + 1 / s);
    case 13: return 1 / (s * s + 1);
    case 14: return s / (s * s + 1);
    case 15: return 2 * s / ((s * s + 1) * (s * s + 1));
    case 16: return 1 / (CSQRT(s - UNIT_I) * CSQRT(s + UNIT_I));
    case 17: return 1 / ((s + 1) * (s + 1) + 1);
    case 18: return CATAN(1 / s);
    case 19: return CEXP(-s) / s;
    default: { /* tanh(s/2)/s = (1 - e^{-s})/((1 + e^{-s}) s), stable for Re s > 0 */
        if (CREAL(s) >= 0) {
            CT e = CEXP(-s);
            return (1 - e) / ((1 + e) * s);
        }
        CT e = CEXP(s);
        return (e - 1) / ((e + 1) * s);
    }
    }
}

#undef CT
#undef SFX
#undef CSQRT
#undef CEXP
#undef CLOG
#undef CATAN
#undef CREAL
#undef GAMMA
#undef UNIT_I
