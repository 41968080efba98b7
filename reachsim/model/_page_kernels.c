/* The compiled kernels of a Page post: its deliveries decided and recorded in one or two passes over the records
 * instead of some thirty NumPy calls (a post without paid impressions, reachsim.model.fan_response) or some 130
 * (a boosted post, reachsim.model.boost_response). The Python modules document the maths and the NumPy
 * references; this file must give their results bit for bit, so it performs the same IEEE operations in the same
 * order (float32 where NumPy computes in float32, double where it promotes) and leaves the one transcendental
 * function, exp, to NumPy between its two calls. Built with -ffp-contract=off: a fused multiply-add would round
 * once where NumPy rounds twice. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "float32 arithmetic must round to float32 at each operation (as NumPy's does); the NumPy reference serves"
#endif

/* A record: the scaled fatigue stock, the engagement probability before fatigue and novelty, fan since (float32),
 * exposures (uint32). */
enum { STOCK = 0, PROBABILITY = 1, SINCE = 2, EXPOSURES = 3, FIELDS = 4 };
/* Up to this many rows every row's opt-out is tested exactly, as reachsim.model.exposure.respond_once does. */
#define FEW 32

/* A C-contiguous, aligned buffer of items of one kind: 'f' float32, 'd' float64, 'i' int32, 'q' int64, '?' bool. */
static int take_buffer(PyObject *obj, Py_buffer *view, int writable, char kind, const char *name) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *format = view->format ? view->format : "B";
    if (*format == '<' || *format == '=' || *format == '@') format++;
    char got = (format[0] != '\0' && format[1] == '\0') ? format[0] : '\0'; /* '\0': none of ours */
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

/* ---- A boosted post (reachsim.model.boost_response) ---------------------------------------------------------- */

/* Up to this many base and further rows, a union keeps the order it met them in; above it, it sorts (as
 * reachsim.channels.page._union does with np.union1d). */
#define UNION_SORTED 4096
/* How far ahead the record of a row spread over the market is fetched (records). */
#define AHEAD 12

/* What a boosted post keeps from boost_prepare to boost_finish: one per Page channel (a capsule), reused. */
typedef struct {
    Py_ssize_t capacity;
    float *record;        /* every delivery's record: base rows [0, size), one per further delivery [size, n) */
    int64_t *where;       /* per base row: its fan position (rows below `fans`) or population row */
    int64_t *again;       /* per further delivery: its base row */
    uint32_t *extra;      /* per base row: its further deliveries */
    uint32_t *hits, *sorting;
    int64_t *counts, *fan_at, *fan_counts, *other_row, *other_counts, *more_row, *more_extra, *rows_a, *rows_b;
    uint32_t *mark;       /* per base row: the generation of the union that took it */
    uint32_t generation;
    Py_ssize_t fans, size, n;
    int prepared;
} Boost;

static void boost_free(PyObject *capsule) {
    Boost *b = PyCapsule_GetPointer(capsule, "reachsim.boost");
    if (!b) return;
    void *arrays[] = {b->record, b->where, b->again, b->extra, b->hits, b->sorting, b->counts, b->fan_at,
                      b->fan_counts, b->other_row, b->other_counts, b->more_row, b->more_extra, b->rows_a,
                      b->rows_b, b->mark};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++) free(arrays[i]);
    free(b);
}

/* boost_state() -> a capsule holding a boosted post's scratch (one per channel: never shared between threads). */
static PyObject *boost_state(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 0) {
        PyErr_SetString(PyExc_TypeError, "boost_state() takes no arguments");
        return NULL;
    }
    Boost *b = calloc(1, sizeof(Boost));
    if (!b) return PyErr_NoMemory();
    PyObject *capsule = PyCapsule_New(b, "reachsim.boost", boost_free);
    if (!capsule) free(b);
    return capsule;
}

static int boost_reserve(Boost *b, Py_ssize_t n) {
    if (n <= b->capacity) return 0;
    Py_ssize_t c = n > 2 * b->capacity ? n : 2 * b->capacity;
    if (c < 4096) c = 4096;
#define GROW(field, items)                                                    \
    do {                                                                      \
        void *grown = realloc(b->field, (size_t)(items) * sizeof(*b->field)); \
        if (!grown) {                                                         \
            PyErr_NoMemory();                                                 \
            return -1;                                                        \
        }                                                                     \
        b->field = grown;                                                     \
    } while (0)
    GROW(record, 4 * c); GROW(where, c); GROW(again, c); GROW(extra, c); GROW(hits, c); GROW(sorting, c);
    GROW(counts, c); GROW(fan_at, c); GROW(fan_counts, c); GROW(other_row, c); GROW(other_counts, c);
    GROW(more_row, c); GROW(more_extra, c); GROW(rows_a, c); GROW(rows_b, c); GROW(mark, c);
#undef GROW
    memset(b->mark, 0, (size_t)c * sizeof(uint32_t));
    b->generation = 0;
    b->capacity = c;
    return 0;
}

static Boost *boost_of(PyObject *capsule) {
    return PyCapsule_GetPointer(capsule, "reachsim.boost");
}

/* Sorts a[0:n] (values below `limit`) by least significant digit first, in digits of at most 11 bits. */
static void radix_sort(uint32_t *a, uint32_t *scratch, Py_ssize_t n, uint64_t limit) {
    if (n < 48) {
        for (Py_ssize_t i = 1; i < n; i++) {
            uint32_t v = a[i];
            Py_ssize_t j = i;
            for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
            a[j] = v;
        }
        return;
    }
    Py_ssize_t histogram[2048];
    uint32_t *from = a, *to = scratch;
    int bits = 0;
    while (bits < 32 && ((limit - 1) >> bits) > 0) bits++;
    int passes = (bits + 10) / 11, width = passes ? (bits + passes - 1) / passes : 0;
    uint32_t mask = (1u << width) - 1u, buckets = mask + 1u;
    for (int shift = 0, pass = 0; pass < passes; pass++, shift += width) {
        memset(histogram, 0, buckets * sizeof(histogram[0]));
        for (Py_ssize_t i = 0; i < n; i++) histogram[(from[i] >> shift) & mask]++;
        Py_ssize_t start = 0;
        for (uint32_t k = 0; k < buckets; k++) {
            Py_ssize_t c = histogram[k];
            histogram[k] = start;
            start += c;
        }
        for (Py_ssize_t i = 0; i < n; i++) to[histogram[(from[i] >> shift) & mask]++] = from[i];
        uint32_t *swap = from;
        from = to;
        to = swap;
    }
    if (from != a) memcpy(a, from, (size_t)n * sizeof(uint32_t));
}

/* Base rows `r`, `r` + 1, … for `where[0:k]`, each impressed `counts` times: the impressions after a row's first
 * are its further deliveries (appended to `more`). Returns the next base row. */
static Py_ssize_t append_rows(Boost *b, const int64_t *where, const int64_t *counts, Py_ssize_t k, Py_ssize_t r,
                              Py_ssize_t *more) {
    for (Py_ssize_t j = 0; j < k; j++) {
        if (counts[j] > 1) {
            b->more_row[*more] = r;
            b->more_extra[(*more)++] = counts[j] - 1;
        }
        b->where[r++] = where[j];
    }
    return r;
}

/* boost_prepare(state, impressions, at, population_store, fan_store, sighted, target, exps, target_size, mode,
 *               stamp, minus_strength, fatigue, novelty, t, rate, increment)
 *   -> (fans, size, n, count of exps, most deliveries to a row, rows with more, stamp used, non-fans)
 *
 * The deliveries of a post whose organic sightings are the fan positions `at` and whose paid impressions land at
 * ⌊U·T⌋ for the uniforms `impressions` (mode 0: rows of the market; 1: fan positions; 2: indices into `target`),
 * as PageChannel._post, _boost and uniform_impressions lay them out: base rows for the fans sighted (by position),
 * then the boosted fans not sighted and the non-fans (each in the order of the impressions' positions), and one row
 * for each further delivery (a fan both sighted and boosted, a repeated impression), the j-th with the stock
 * F + j·increment. The sighted fans are
 * stamped `stamp` in `sighted` when the boost reached a fan (and the post sighted some). The arguments of the
 * post's exps go to `exps`: −strength·F for every delivery where `fatigue`, then (since − t)·rate for the fans'
 * base rows where `novelty`. */
static PyObject *boost_prepare(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 17) {
        PyErr_SetString(PyExc_TypeError, "boost_prepare() takes 17 arguments");
        return NULL;
    }
    Boost *b = boost_of(args[0]);
    if (!b) return NULL;
    b->prepared = 0;
    Py_buffer views[7];
    int taken[7] = {0};
    PyObject *result = NULL;
    int have_target = args[6] != Py_None;
    if (take_buffer(args[1], &views[0], 0, 'd', "impressions") < 0) goto done;
    taken[0] = 1;
    if (take_buffer(args[2], &views[1], 0, 'q', "at") < 0) goto done;
    taken[1] = 1;
    if (take_store(args[3], &views[2], 0) < 0) goto done;
    taken[2] = 1;
    if (take_store(args[4], &views[3], 0) < 0) goto done;
    taken[3] = 1;
    if (take_buffer(args[5], &views[4], 1, 'i', "sighted") < 0) goto done;
    taken[4] = 1;
    if (have_target) {
        if (take_buffer(args[6], &views[5], 0, 'i', "target") < 0) goto done;
        taken[5] = 1;
    }
    if (take_buffer(args[7], &views[6], 1, 'f', "exps") < 0) goto done;
    taken[6] = 1;
    Py_ssize_t target_size = PyLong_AsSsize_t(args[8]);
    if (target_size == -1 && PyErr_Occurred()) goto done;
    long mode = PyLong_AsLong(args[9]);
    if (mode == -1 && PyErr_Occurred()) goto done;
    long long stamp = PyLong_AsLongLong(args[10]);
    if (stamp == -1 && PyErr_Occurred()) goto done;
    double minus_strength_d, t_d, rate_d, increment_d;
    int fatigue, novelty;
    if (as_double(args[11], &minus_strength_d) < 0 || as_flag(args[12], &fatigue) < 0
        || as_flag(args[13], &novelty) < 0 || as_double(args[14], &t_d) < 0 || as_double(args[15], &rate_d) < 0
        || as_double(args[16], &increment_d) < 0)
        goto done;
    if (mode < 0 || mode > 2 || (mode == 2 && !have_target) || stamp < 1 || stamp > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "mode must be 0, 1 or 2 (2 with a target), the stamp a positive int32");
        goto done;
    }
    const double *uniforms = views[0].buf;
    const int64_t *at = views[1].buf;
    const float *population = views[2].buf;
    const int32_t *listed_of = views[2].buf; /* field 2 of a record by row: fan position + 1, 0 for non-fans */
    const float *fan_store = views[3].buf;
    int32_t *sighted = views[4].buf;
    const int32_t *target = have_target ? views[5].buf : NULL;
    float *exps = views[6].buf;
    Py_ssize_t impressions = views[0].len / 8, organic = views[1].len / 8;
    Py_ssize_t rows = views[2].shape[0], fan_rows = views[3].shape[0], stamps = views[4].len / 4;
    Py_ssize_t targets = have_target ? views[5].len / 4 : 0;
    if (impressions && (target_size <= 0 || target_size > INT32_MAX || (mode == 2 && target_size > targets)
                        || (mode == 0 && target_size > rows) || (mode == 1 && target_size > fan_rows))) {
        PyErr_SetString(PyExc_ValueError, "the target size does not fit the stores");
        goto done;
    }
    Py_ssize_t n = organic + impressions;
    if (boost_reserve(b, n + 1) < 0) goto done;
    /* the impressions' positions, sorted, each distinct one with its count (uniform_impressions) */
    uint32_t *hits = b->hits;
    int64_t *counts = b->counts;
    double size_d = (double)target_size;
    for (Py_ssize_t i = 0; i < impressions; i++) {
        double x = uniforms[i] * size_d;
        if (!(x >= 0.0 && x < size_d)) { /* also NaN: a uniform outside [0, 1) */
            PyErr_SetString(PyExc_ValueError, "impressions' uniforms must lie in [0, 1)");
            goto done;
        }
        hits[i] = (uint32_t)(int64_t)x;
    }
    radix_sort(hits, b->sorting, impressions, (uint64_t)target_size);
    Py_ssize_t distinct = 0;
    for (Py_ssize_t i = 0; i < impressions; i++) {
        if (distinct && hits[distinct - 1] == hits[i]) {
            counts[distinct - 1]++;
        } else {
            hits[distinct] = hits[i];
            counts[distinct++] = 1;
        }
    }
    /* split into fans (their positions) and non-fans (their rows), in the order of the positions */
    Py_ssize_t boosted_fans = 0, others = 0;
    for (Py_ssize_t k = 0; k < distinct; k++) {
        if (mode == 1) {
            b->fan_at[boosted_fans] = hits[k];
            b->fan_counts[boosted_fans++] = counts[k];
            continue;
        }
        if (k + AHEAD < distinct) { /* the records are spread over the market: overlap the misses */
            int64_t ahead = mode == 2 ? (int64_t)target[hits[k + AHEAD]] : (int64_t)hits[k + AHEAD];
            if (ahead >= 0 && ahead < rows) __builtin_prefetch(listed_of + FIELDS * ahead);
        }
        int64_t row = mode == 2 ? (int64_t)target[hits[k]] : (int64_t)hits[k];
        if (row < 0 || row >= rows) {
            PyErr_SetString(PyExc_IndexError, "a target row outside the population's records");
            goto done;
        }
        int32_t listed = listed_of[FIELDS * row + SINCE];
        if (listed) {
            if (listed < 0 || listed > fan_rows) {
                PyErr_SetString(PyExc_IndexError, "a fan position outside the fans' records");
                goto done;
            }
            b->fan_at[boosted_fans] = listed - 1;
            b->fan_counts[boosted_fans++] = counts[k];
        } else {
            b->other_row[others] = row;
            b->other_counts[others++] = counts[k];
        }
    }
    /* base rows: the fans sighted, the boosted fans not sighted, the non-fans; further deliveries as `more` */
    if (positions_in_range(at, organic, fan_rows < stamps ? fan_rows : stamps) < 0) goto done;
    Py_ssize_t more = 0, r = 0;
    for (Py_ssize_t i = 0; i < organic; i++) b->where[r++] = at[i];
    int used_stamp = 0;
    Py_ssize_t alone = boosted_fans;
    if (boosted_fans && organic) {
        used_stamp = 1;
        int32_t mark = (int32_t)stamp;
        for (Py_ssize_t i = 0; i < organic; i++) sighted[at[i]] = mark;
        alone = 0;
        for (Py_ssize_t j = 0; j < boosted_fans; j++) {
            int64_t position = b->fan_at[j];
            if (position >= stamps) {
                PyErr_SetString(PyExc_IndexError, "a fan position outside the stamps");
                goto done;
            }
            if (sighted[position] == mark) { /* both: its row among the sighted, every paid delivery further */
                Py_ssize_t lo = 0, hi = organic;
                while (lo < hi) {
                    Py_ssize_t mid = (lo + hi) >> 1;
                    if (at[mid] < position) lo = mid + 1;
                    else hi = mid;
                }
                b->more_row[more] = lo;
                b->more_extra[more++] = b->fan_counts[j];
            } else {
                b->fan_at[alone] = position;
                b->fan_counts[alone++] = b->fan_counts[j];
            }
        }
    }
    r = append_rows(b, b->fan_at, b->fan_counts, alone, r, &more);
    Py_ssize_t fans = r;
    Py_ssize_t size = append_rows(b, b->other_row, b->other_counts, others, r, &more);
    float *record = b->record;
    for (Py_ssize_t q = 0; q < fans; q++) {
        if (q + AHEAD < fans) __builtin_prefetch(fan_store + FIELDS * b->where[q + AHEAD]);
        memcpy(record + FIELDS * q, fan_store + FIELDS * b->where[q], FIELDS * 4);
    }
    for (Py_ssize_t q = fans; q < size; q++) memcpy(record + FIELDS * q, population + FIELDS * b->where[q], FIELDS * 4);
    memset(b->extra, 0, (size_t)size * sizeof(uint32_t));
    float increment = (float)increment_d;
    int64_t most = 0;
    Py_ssize_t d = size;
    for (Py_ssize_t k = 0; k < more; k++) {
        int64_t row = b->more_row[k], extra = b->more_extra[k];
        b->extra[row] = (uint32_t)extra;
        if (extra > most) most = extra;
        for (int64_t j = 1; j <= extra; j++, d++) { /* F + j, as j·increment added in float32 */
            memcpy(record + FIELDS * d, record + FIELDS * row, FIELDS * 4);
            float step = (float)j * increment;
            record[FIELDS * d + STOCK] = record[FIELDS * d + STOCK] + step;
            b->again[d - size] = row;
        }
    }
    if (d != n) {
        PyErr_SetString(PyExc_RuntimeError, "the deliveries do not add up to the sightings and impressions");
        goto done;
    }
    Py_ssize_t count = (fatigue ? n : 0) + (novelty ? fans : 0);
    if (count > views[6].len / 4) {
        PyErr_SetString(PyExc_ValueError, "exps is too small");
        goto done;
    }
    float *out = exps;
    if (fatigue) {
        float minus_strength = (float)minus_strength_d;
        for (Py_ssize_t q = 0; q < n; q++) out[q] = record[FIELDS * q + STOCK] * minus_strength;
        out += n;
    }
    if (novelty) {
        float t = (float)t_d, rate = (float)rate_d;
        for (Py_ssize_t q = 0; q < fans; q++) {
            float age = record[FIELDS * q + SINCE] - t; /* minus the age */
            out[q] = age * rate;
        }
    }
    b->fans = fans;
    b->size = size;
    b->n = n;
    b->prepared = 1;
    result = Py_BuildValue("nnnnLnin", fans, size, n, count, (long long)(1 + most), more, used_stamp, others);
done:
    for (int i = 0; i < 7; i++)
        if (taken[i]) PyBuffer_Release(&views[i]);
    return result;
}

/* The union of base rows a[0:na] (distinct, ascending) and further rows f[0:nf] (repeats allowed), into out, as
 * reachsim.channels.page._union: in the order met, sorted above UNION_SORTED rows in all. */
static int compare_rows(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static Py_ssize_t unite(Boost *b, const int64_t *a, Py_ssize_t na, const int64_t *f, Py_ssize_t nf, int64_t *out) {
    if (++b->generation == 0) {
        memset(b->mark, 0, (size_t)b->capacity * sizeof(uint32_t));
        b->generation = 1;
    }
    uint32_t g = b->generation;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < na; i++) {
        out[n++] = a[i];
        b->mark[a[i]] = g;
    }
    for (Py_ssize_t i = 0; i < nf; i++)
        if (b->mark[f[i]] != g) {
            b->mark[f[i]] = g;
            out[n++] = f[i];
        }
    if (na + nf > UNION_SORTED) qsort(out, (size_t)n, sizeof(int64_t), compare_rows);
    return n;
}

/* boost_finish(state, exps, uniforms, fan_store, population_store, fan_list, each, engaged, engaged_nonfan,
 *              out, first, fatigue, novelty, keep, lowest, optout, optout_fatigue_strength, increment, first_seen)
 *   -> (engagements, engaged, unfollowed, first seen, first seen among the fans)
 *
 * Every delivery that boost_prepare laid out, with its uniform, by the rule of respond_once (p as in `respond`,
 * the novelty for the fans' rows only; every opt-out tested exactly); the records written back with F + 1 + extra
 * and exposures + 1 + extra. The consumer rows of each engagement (base rows, then further deliveries) go to
 * `each`; of those who engaged (their union) to `engaged`, with whether each is a non-fan; of the fans who
 * unfollowed to `out`; of those never exposed before, where `first_seen`, to `first`. */
static PyObject *boost_finish(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 19) {
        PyErr_SetString(PyExc_TypeError, "boost_finish() takes 19 arguments");
        return NULL;
    }
    Boost *b = boost_of(args[0]);
    if (!b) return NULL;
    if (!b->prepared) {
        PyErr_SetString(PyExc_RuntimeError, "boost_finish() without boost_prepare()");
        return NULL;
    }
    b->prepared = 0;
    static const char kinds[10] = {'f', 'd', 'f', 'f', 'i', 'q', 'q', '?', 'q', 'q'};
    static const int writable[10] = {0, 0, 1, 1, 0, 1, 1, 1, 1, 1};
    static const char *names[10] = {"exps", "uniforms", "fan_store", "population_store", "fan_list", "each",
                                    "engaged", "engaged_nonfan", "out", "first"};
    Py_buffer views[10];
    int held = 0;
    PyObject *result = NULL;
    for (; held < 10; held++) {
        int ok = (held == 2 || held == 3) ? take_store(args[held + 1], &views[held], 1)
                                          : take_buffer(args[held + 1], &views[held], writable[held], kinds[held],
                                                        names[held]);
        if (ok < 0) goto done;
    }
    int fatigue, novelty, first_seen;
    double keep_d, lowest_d, optout, optout_fatigue_strength, increment_d;
    if (as_flag(args[11], &fatigue) < 0 || as_flag(args[12], &novelty) < 0 || as_double(args[13], &keep_d) < 0
        || as_double(args[14], &lowest_d) < 0 || as_double(args[15], &optout) < 0
        || as_double(args[16], &optout_fatigue_strength) < 0 || as_double(args[17], &increment_d) < 0
        || as_flag(args[18], &first_seen) < 0)
        goto done;
    const float *exps = views[0].buf;
    const double *uniforms = views[1].buf;
    float *fan_store = views[2].buf, *population = views[3].buf;
    const int32_t *fan_list = views[4].buf;
    int64_t *each = views[5].buf, *engaged = views[6].buf, *out = views[8].buf, *first = views[9].buf;
    uint8_t *engaged_nonfan = views[7].buf;
    Py_ssize_t fans = b->fans, size = b->size, n = b->n;
    Py_ssize_t fan_rows = views[2].shape[0], rows = views[3].shape[0], listed = views[4].len / 4;
    Py_ssize_t count = (fatigue ? n : 0) + (novelty ? fans : 0);
    if (views[1].len / 8 != n || views[0].len / 4 < count || views[5].len / 8 < n || views[6].len / 8 < n
        || views[7].len < n || views[8].len / 8 < n || views[9].len / 8 < n) {
        PyErr_SetString(PyExc_ValueError, "uniforms must be one per delivery, the other buffers as long");
        goto done;
    }
    for (Py_ssize_t q = 0; q < size; q++) {
        int64_t w = b->where[q];
        if (w < 0 || (q < fans ? (w >= fan_rows || w >= listed) : w >= rows)) {
            PyErr_SetString(PyExc_IndexError, "the stores changed between boost_prepare() and boost_finish()");
            goto done;
        }
    }
    float keep = (float)keep_d, lowest = (float)lowest_d, increment = (float)increment_d;
    const float *decay = exps, *fresh = exps + (fatigue ? n : 0);
    /* the base rows engaged or out into rows_a / rows_b; the further ones' base rows, for now, into each / out */
    Py_ssize_t engaged_base = 0, out_base = 0, engaged_more = 0, out_more = 0;
    int64_t *engaged_rows = b->rows_a, *out_rows = b->rows_b;
    for (Py_ssize_t d = 0; d < n; d++) {
        int64_t row = d < size ? d : b->again[d - size];
        const float *record = b->record + FIELDS * d;
        float stock = record[STOCK], p = record[PROBABILITY];
        if (novelty && row < fans) {
            float factor = fresh[row] * keep;
            factor = factor + lowest;
            p = factor * p;
        }
        if (fatigue) p = decay[d] * p;
        double u = uniforms[d], pd = (double)p;
        int is_engaged = u < pd;
        int is_out = optout != 0.0 && opts_out(u, pd, (double)stock, optout, optout_fatigue_strength);
        if (d < size) {
            if (is_engaged) engaged_rows[engaged_base++] = row;
            if (is_out) out_rows[out_base++] = row;
        } else {
            if (is_engaged) each[engaged_more++] = row;
            if (is_out) out[out_more++] = row;
        }
    }
    Py_ssize_t n_first = 0, n_first_fans = 0;
    if (first_seen) { /* before the write-back */
        for (Py_ssize_t q = 0; q < size; q++) {
            uint32_t seen;
            memcpy(&seen, b->record + FIELDS * q + EXPOSURES, 4);
            if (seen == 0) {
                first[n_first++] = q;
                if (q < fans) n_first_fans++;
            }
        }
    }
    for (Py_ssize_t q = 0; q < size; q++) { /* F + 1 (+ extra), exposures + 1 (+ extra); field by field */
        const float *record = b->record + FIELDS * q;
        float stock = record[STOCK] + increment;
        uint32_t seen;
        memcpy(&seen, record + EXPOSURES, 4);
        seen += 1u;
        if (b->extra[q]) {
            float step = (float)b->extra[q] * increment;
            stock = stock + step;
            seen += b->extra[q];
        }
        float *to = (q < fans ? fan_store : population) + FIELDS * b->where[q];
        to[STOCK] = stock;
        to[PROBABILITY] = record[PROBABILITY];
        to[SINCE] = record[SINCE];
        memcpy(to + EXPOSURES, &seen, 4);
    }
    /* who engaged: the union of the base rows and the further deliveries' rows (out likewise) */
    memcpy(b->more_row, each, (size_t)engaged_more * sizeof(int64_t));
    memcpy(b->more_extra, out, (size_t)out_more * sizeof(int64_t));
    Py_ssize_t n_engaged, n_out;
    if (engaged_more) {
        n_engaged = unite(b, engaged_rows, engaged_base, b->more_row, engaged_more, engaged);
    } else {
        memcpy(engaged, engaged_rows, (size_t)engaged_base * sizeof(int64_t));
        n_engaged = engaged_base;
    }
    if (out_more) {
        n_out = unite(b, out_rows, out_base, b->more_extra, out_more, out);
    } else {
        memcpy(out, out_rows, (size_t)out_base * sizeof(int64_t));
        n_out = out_base;
    }
    Py_ssize_t kept = 0; /* only fans unfollow */
    for (Py_ssize_t i = 0; i < n_out; i++)
        if (out[i] < fans) out[kept++] = out[i];
    n_out = kept;
#define PERSON(row) ((row) < fans ? (int64_t)fan_list[b->where[(row)]] : b->where[(row)])
    for (Py_ssize_t i = 0; i < engaged_base; i++) each[i] = PERSON(engaged_rows[i]);
    for (Py_ssize_t i = 0; i < engaged_more; i++) each[engaged_base + i] = PERSON(b->more_row[i]);
    for (Py_ssize_t i = 0; i < n_engaged; i++) {
        int64_t row = engaged[i];
        engaged_nonfan[i] = row >= fans;
        engaged[i] = PERSON(row);
    }
    for (Py_ssize_t i = 0; i < n_out; i++) out[i] = PERSON(out[i]);
    for (Py_ssize_t i = 0; i < n_first; i++) first[i] = PERSON(first[i]);
#undef PERSON
    result = Py_BuildValue("nnnnn", engaged_base + engaged_more, n_engaged, n_out, n_first, n_first_fans);
done:
    release_all(views, held);
    return result;
}

static PyMethodDef methods[] = {
    {"exponents", (PyCFunction)(void (*)(void))exponents, METH_FASTCALL,
     "The float32 arguments of a post's exps (see the C source)."},
    {"respond", (PyCFunction)(void (*)(void))respond, METH_FASTCALL,
     "A post's deliveries to fans, decided and recorded (see the C source)."},
    {"boost_state", (PyCFunction)(void (*)(void))boost_state, METH_FASTCALL,
     "A boosted post's scratch, one per channel (see the C source)."},
    {"boost_prepare", (PyCFunction)(void (*)(void))boost_prepare, METH_FASTCALL,
     "A boosted post's deliveries laid out (see the C source)."},
    {"boost_finish", (PyCFunction)(void (*)(void))boost_finish, METH_FASTCALL,
     "A boosted post's deliveries decided and recorded (see the C source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_page_kernels", "Compiled kernels of a Page post (reachsim.model.fan_response).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__page_kernels(void) { return PyModule_Create(&module); }
