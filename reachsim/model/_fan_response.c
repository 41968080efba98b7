/* The compiled form of reachsim.model.fan_response: a post's deliveries to the fans it reaches, decided and
 * recorded in one pass over their records instead of some thirty NumPy calls. The Python module documents the
 * maths and holds the NumPy reference; this file must give its results bit for bit, so it performs the same IEEE
 * operations in the same order (float32 where NumPy computes in float32, double where it promotes) and leaves the
 * one transcendental function, exp, to NumPy between its two calls. Built with -ffp-contract=off: a fused
 * multiply-add would round once where NumPy rounds twice. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float32 arithmetic must round to float32 at each operation (as NumPy's does); the NumPy reference serves"
#endif

/* A record: the scaled fatigue stock, the engagement probability before fatigue and novelty, fan since (float32),
 * exposures (uint32). */
enum { STOCK = 0, PROBABILITY = 1, SINCE = 2, EXPOSURES = 3, FIELDS = 4 };
/* Up to this many rows every row's opt-out is tested exactly, as reachsim.model.exposure.respond_once does. */
#define FEW 32

/* A C-contiguous, aligned buffer of items of one kind: 'f' float32, 'd' float64, 'i' int32, 'q' int64. */
static int take_buffer(PyObject *obj, Py_buffer *view, int writable, char kind, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *format = view->format ? view->format : "B";
    if (*format == '<' || *format == '=' || *format == '@') format++;
    char got = (format[0] != '\0' && format[1] == '\0') ? format[0] : '?';
    if (got == 'l' && view->itemsize == 8) got = 'q';
    if (got == 'l' && view->itemsize == 4) got = 'i';
    if (got != kind) {
        PyErr_Format(PyExc_TypeError, "%s: expected items of kind '%c', got '%s'", name, kind, format);
        PyBuffer_Release(view);
        return -1;
    }
    if ((uintptr_t)view->buf % (uintptr_t)view->itemsize) {
        PyErr_Format(PyExc_ValueError, "%s: the items are not aligned", name);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The store: records of FIELDS items, as a 2-D array of FIELDS columns. */
static int take_store(PyObject *obj, Py_buffer *view, int writable) {
    if (take_buffer(obj, view, writable, 'f', "store") < 0) return -1;
    if (view->ndim != 2 || view->shape[1] != FIELDS) {
        PyErr_Format(PyExc_ValueError, "store: expected %d columns of float32, one row per record", FIELDS);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static void release_all(Py_buffer *views, int count) {
    for (int i = 0; i < count; i++) PyBuffer_Release(&views[i]);
}

/* Checks that every position lies within `size` (the records, or the people, whichever are fewer). */
static int positions_in_range(const int64_t *at, Py_ssize_t n, Py_ssize_t size) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (at[i] < 0 || at[i] >= size) {
            PyErr_Format(PyExc_IndexError, "position %lld outside the %zd records (and people)", (long long)at[i],
                         size);
            return -1;
        }
    }
    return 0;
}

/* A Python float or bool argument, or -1 with the error set (checked before the next argument is read). */
static int as_double(PyObject *obj, double *out) {
    *out = PyFloat_AsDouble(obj);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int as_flag(PyObject *obj, int *out) {
    *out = PyObject_IsTrue(obj);
    return *out < 0 ? -1 : 0;
}

/* exponents(store, at, out, minus_strength, fatigue, novelty, t, rate) -> count written
 *
 * The arguments of the two exps of the deliveries at positions `at`: out[0:n] = F·(−strength) where `fatigue`,
 * then (since − t)·rate where `novelty` (t and rate as float32), as NumPy's float32 products. */
static PyObject *exponents(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "exponents() takes 8 arguments");
        return NULL;
    }
    Py_buffer views[3];
    int held = 0;
    PyObject *result = NULL;
    if (take_store(args[0], &views[held], 0) < 0) goto done;
    held++;
    if (take_buffer(args[1], &views[held], 0, 'q', "at") < 0) goto done;
    held++;
    if (take_buffer(args[2], &views[held], 1, 'f', "out") < 0) goto done;
    held++;
    double minus_strength_d, t_d, rate_d;
    int fatigue, novelty;
    if (as_double(args[3], &minus_strength_d) < 0 || as_flag(args[4], &fatigue) < 0 || as_flag(args[5], &novelty) < 0
        || as_double(args[6], &t_d) < 0 || as_double(args[7], &rate_d) < 0)
        goto done;
    float minus_strength = (float)minus_strength_d, t = (float)t_d, rate = (float)rate_d;
    const float *store = views[0].buf;
    const int64_t *at = views[1].buf;
    float *out = views[2].buf;
    Py_ssize_t n = views[1].len / 8, size = views[0].len / (FIELDS * 4);
    Py_ssize_t count = (fatigue ? n : 0) + (novelty ? n : 0);
    if (count > views[2].len / 4) {
        PyErr_SetString(PyExc_ValueError, "out is too small");
        goto done;
    }
    if (positions_in_range(at, n, size) < 0) goto done;
    if (fatigue) {
        for (Py_ssize_t i = 0; i < n; i++) out[i] = store[FIELDS * at[i] + STOCK] * minus_strength;
        out += n;
    }
    if (novelty) {
        for (Py_ssize_t i = 0; i < n; i++) {
            float age = store[FIELDS * at[i] + SINCE] - t; /* minus the age */
            out[i] = age * rate;
        }
    }
    result = PyLong_FromSsize_t(count);
done:
    release_all(views, held);
    return result;
}

/* The exact opt-out test of reachsim.model.exposure._opts_out, in the same double operations. */
static int opts_out(double u, double p, double f, double optout, double optout_fatigue_strength) {
    double q = optout * (1.0 + optout_fatigue_strength * f);
    if (!(q < 1.0)) q = 1.0;
    double capped = p < 1.0 ? p : 1.0;
    if (u < p) return u < capped * q;
    return u >= 1.0 - (1.0 - capped) * q;
}

/* respond(store, at, exps, uniforms, people, out, fatigue, novelty, keep, lowest, optout,
 *         optout_fatigue_strength, stock_bound, increment, first) -> (engaged, opted out, first seen)
 *
 * Each delivery at positions `at` (distinct) with its uniform: engaged when u < p, p = exp(−s·F)·(novelty·prob),
 * novelty = exp(...)·keep + lowest (keep = 1 − floor, lowest = the floor; float32, the exps as `exponents` left
 * them after NumPy's exp); opted out by the rule of respond_once (every row tested exactly up to FEW rows, else
 * the rows with u < q_max or u ≥ 1 − q_max, q_max from `stock_bound`). Then the stock gains `increment` and the
 * exposures 1, in the store. The consumer rows (people[position]) of the engaged, the opted out and, where `first`,
 * those never exposed before go to out[0:], out[n:] and out[2n:], in the order of `at`; their counts are
 * returned. */
static PyObject *respond(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 15) {
        PyErr_SetString(PyExc_TypeError, "respond() takes 15 arguments");
        return NULL;
    }
    static const char kinds[6] = {'f', 'q', 'f', 'd', 'i', 'q'};
    static const int writable[6] = {1, 0, 0, 0, 0, 1};
    static const char *names[6] = {"store", "at", "exps", "uniforms", "people", "out"};
    Py_buffer views[6];
    int held = 0;
    PyObject *result = NULL;
    for (; held < 6; held++) {
        int taken = held == 0 ? take_store(args[0], &views[0], 1)
                              : take_buffer(args[held], &views[held], writable[held], kinds[held], names[held]);
        if (taken < 0) goto done;
    }
    int fatigue, novelty, first;
    double keep_d, lowest_d, optout, optout_fatigue_strength, stock_bound, increment_d;
    if (as_flag(args[6], &fatigue) < 0 || as_flag(args[7], &novelty) < 0 || as_double(args[8], &keep_d) < 0
        || as_double(args[9], &lowest_d) < 0 || as_double(args[10], &optout) < 0
        || as_double(args[11], &optout_fatigue_strength) < 0 || as_double(args[12], &stock_bound) < 0
        || as_double(args[13], &increment_d) < 0 || as_flag(args[14], &first) < 0)
        goto done;
    float keep = (float)keep_d, lowest = (float)lowest_d, increment = (float)increment_d;
    float *store = views[0].buf;
    uint32_t *exposures = views[0].buf;
    const int64_t *at = views[1].buf;
    const float *exps = views[2].buf;
    const double *uniforms = views[3].buf;
    const int32_t *people = views[4].buf;
    int64_t *out = views[5].buf;
    Py_ssize_t n = views[1].len / 8, size = views[0].len / (FIELDS * 4);
    if (views[3].len / 8 != n) {
        PyErr_SetString(PyExc_ValueError, "uniforms must be one per position");
        goto done;
    }
    if (views[2].len / 4 < (fatigue ? n : 0) + (novelty ? n : 0) || views[5].len / 8 < 3 * n) {
        PyErr_SetString(PyExc_ValueError, "exps or out is too small");
        goto done;
    }
    if (views[4].len / 4 < size) size = views[4].len / 4;
    if (positions_in_range(at, n, size) < 0) goto done;
    const float *decay = exps, *fresh = exps + (fatigue ? n : 0);
    int every = n <= FEW;
    double q_max = 0.0;
    if (!every && optout != 0.0) {
        q_max = optout * (1.0 + optout_fatigue_strength * (optout_fatigue_strength != 0.0 ? stock_bound : 0.0));
        if (!(q_max < 1.0)) q_max = 1.0;
    }
    double high = 1.0 - q_max;
    int64_t *engaged = out, *opted = out + n, *seen_first = out + 2 * n;
    Py_ssize_t n_engaged = 0, n_opted = 0, n_first = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        float *record = store + FIELDS * at[i];
        float stock = record[STOCK], p = record[PROBABILITY];
        if (novelty) {
            float factor = fresh[i] * keep;
            factor = factor + lowest;
            p = factor * p;
        }
        if (fatigue) p = decay[i] * p;
        double u = uniforms[i], pd = (double)p;
        int64_t person = people[at[i]];
        if (u < pd) engaged[n_engaged++] = person;
        if (optout != 0.0 && (every || u < q_max || u >= high)
            && opts_out(u, pd, (double)stock, optout, optout_fatigue_strength))
            opted[n_opted++] = person;
        uint32_t count = exposures[FIELDS * at[i] + EXPOSURES];
        if (first && count == 0) seen_first[n_first++] = person;
        record[STOCK] = stock + increment;
        exposures[FIELDS * at[i] + EXPOSURES] = count + 1u;
    }
    result = Py_BuildValue("nnn", n_engaged, n_opted, n_first);
done:
    release_all(views, held);
    return result;
}

static PyMethodDef methods[] = {
    {"exponents", (PyCFunction)(void (*)(void))exponents, METH_FASTCALL,
     "The float32 arguments of a post's exps (see the C source)."},
    {"respond", (PyCFunction)(void (*)(void))respond, METH_FASTCALL,
     "A post's deliveries to fans, decided and recorded (see the C source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fan_response", "Compiled kernel of reachsim.model.fan_response.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fan_response(void) { return PyModule_Create(&module); }
