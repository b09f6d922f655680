/* The reward's common case in C: a bare or tagged answer of a built-in task, scored against a canonical ground truth.

   videossr.rewards.compute_score calls score() first. It returns the reward's result dict when the answer is one of
   the forms the Python fast paths of videossr/answers.py read with a single regex (``_bare_form``: a bare or
   <answer>-tagged interval, count triple or clip order) or holds no digit at all (ASCII). For any other answer
   (sentences, labelled counts, non-ASCII text) it returns the ground truth it read, as the task's parse_gold gives
   it, and Python parses the answer. It returns None, and Python does everything, for anything else: a data source
   not in ``kinds`` as written, a ground truth not in its canonical form, a recipe row loaded without its frames,
   an unknown mode, an unexpected type.

   It gives exactly what the Python path gives: the same grammar as those regexes (character classes included), the
   same number conversion (PyOS_string_to_double, which float() uses), and the same floating-point operations in the
   same order as the tasks' ``scores`` (tests/test_speedups.py compares both on hand cases and fuzzed answers).
   Nothing here raises for an answer: any doubt returns None and Python decides. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { GROUNDING = 0, COUNTING = 1, JIGSAW = 2 };

/* The characters stripped around an answer, given by configure() from videossr/answers.py: WRAP_CHARS around counts
   and orders, STRIP_CHARS (what str.strip removes from ASCII) around intervals. score() reads nothing before. */
static unsigned char WRAP[256];
static unsigned char SPACE[256];
static int configured = 0;

static PyObject *KEY_SCORE, *KEY_FORMAT_OK, *KEY_STRICT, *KEY_TASK_ID, *KEY_GOLD_OK, *KEY_RECIPE;
static PyObject *ZERO, *ONE;

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')

/* --- grammar ------------------------------------------------------------------------------------------------ */

/* [*lo, *hi) of s[0:n] without an <answer> prefix, an </answer> suffix and the `around` characters on either side:
   the body of answers._bare_form, whose first and last characters are never `around` characters. */
static void unwrap(const unsigned char *s, Py_ssize_t n, const unsigned char *around, Py_ssize_t *lo,
                   Py_ssize_t *hi)
{
    Py_ssize_t i = 0, j = n;
    if (j >= 8 && memcmp(s, "<answer>", 8) == 0)
        i = 8;
    if (j - i >= 9 && memcmp(s + j - 9, "</answer>", 9) == 0)
        j -= 9;
    while (i < j && around[s[i]])
        i++;
    while (j > i && around[s[j - 1]])
        j--;
    *lo = i;
    *hi = j;
}

/* A run of 1..9 digits at s[*p] (fewer than `hi`); advances *p. 0 if there is none or it is longer. */
static int digits(const unsigned char *s, Py_ssize_t *p, Py_ssize_t hi)
{
    Py_ssize_t start = *p, i = *p;
    while (i < hi && IS_DIGIT(s[i]))
        i++;
    *p = i;
    return i > start && i - start <= 9;
}

/* A decimal \d{1,9}(?:\.\d{1,9})? at s[*p] as a double (float()'s conversion); advances *p. 0 if none. */
static int decimal(const unsigned char *s, Py_ssize_t *p, Py_ssize_t hi, double *out)
{
    Py_ssize_t start = *p;
    char buf[24];
    if (!digits(s, p, hi))
        return 0;
    if (*p + 1 < hi && s[*p] == '.' && IS_DIGIT(s[*p + 1])) {
        (*p)++;
        if (!digits(s, p, hi))
            return 0;
    }
    memcpy(buf, s + start, (size_t)(*p - start));
    buf[*p - start] = '\0';
    *out = PyOS_string_to_double(buf, NULL, NULL);
    if (*out == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* An interval "a-b" with an optional space on either side of the dash and, if `dot`, one trailing period. */
static int interval(const unsigned char *s, Py_ssize_t lo, Py_ssize_t hi, int dot, double *a, double *b)
{
    Py_ssize_t p = lo;
    if (!decimal(s, &p, hi, a))
        return 0;
    if (p < hi && s[p] == ' ')
        p++;
    if (p >= hi || s[p] != '-')
        return 0;
    p++;
    if (p < hi && s[p] == ' ')
        p++;
    if (!decimal(s, &p, hi, b))
        return 0;
    if (dot && p < hi && s[p] == '.')
        p++;
    return p == hi;
}

/* Three counts "a,b,c" (answers._COUNTS_FULL_RE: each comma followed by an optional space). */
static int counts(const unsigned char *s, Py_ssize_t lo, Py_ssize_t hi, long c[3])
{
    Py_ssize_t p = lo;
    for (int k = 0; k < 3; k++) {
        Py_ssize_t start = p;
        if (k > 0) {
            if (p >= hi || s[p] != ',')
                return 0;
            p++;
            if (p < hi && s[p] == ' ')
                p++;
            start = p;
        }
        if (!digits(s, &p, hi))
            return 0;
        c[k] = 0;
        for (Py_ssize_t i = start; i < p; i++)
            c[k] = c[k] * 10 + (s[i] - '0');
    }
    return p == hi;
}

/* A clip order (answers._FAST_ORDER_RE's body and _as_permutation). Returns 0 when the text is not in that form
   (Python's general parser decides), 1 when it is; then *ok says whether it is a permutation of 1..n, written
   into perm. */
static int order(const unsigned char *s, Py_ssize_t lo, Py_ssize_t hi, int n, int perm[9], int *ok)
{
    Py_ssize_t p = lo, sep_start = -1, sep_len = -1;
    int count = 0, contiguous = 1, same_sep = 1;
    unsigned seen = 0;
    if (lo >= hi)
        return 0;
    for (Py_ssize_t i = lo; i < hi; i++)
        if (!IS_DIGIT(s[i]))
            contiguous = 0;
    *ok = 1;
    while (1) {
        if (p >= hi || !IS_DIGIT(s[p]))
            return 0;
        int d = s[p] - '0';
        if (count < 9 && d >= 1 && d <= n && !(seen & (1u << d))) {
            seen |= 1u << d;
            perm[count] = d;
        } else {
            *ok = 0;
        }
        count++;
        p++;
        if (p == hi)
            break;
        if (contiguous)
            continue;
        Py_ssize_t start = p;
        if (s[p] == ',') {
            p++;
            if (p < hi && s[p] == ' ')
                p++;
        } else if (s[p] == ' ') {
            p++;
        } else {
            return 0;
        }
        if (sep_len < 0) {
            sep_start = start;
            sep_len = p - start;
        } else if (p - start != sep_len || memcmp(s + start, s + sep_start, (size_t)sep_len) != 0) {
            same_sep = 0;
        }
    }
    if (count != n || !same_sep)
        *ok = 0;
    return 1;
}

/* --- scores: the tasks' ``scores``, operation for operation --------------------------------------------------- */

static void grounding_scores(double p0, double p1, double g0, double g1, double *smooth, double *strict)
{
    double inter = (p1 < g1 ? p1 : g1) - (p0 > g0 ? p0 : g0);
    if (p1 <= p0 || inter <= 0) {
        *smooth = *strict = 0.0;
        return;
    }
    *smooth = *strict = inter / ((p1 > g1 ? p1 : g1) - (p0 < g0 ? p0 : g0));
}

static void counting_scores(const long p[3], const long g[3], double *smooth, double *strict)
{
    double sm = 0.0, st = 0.0;
    for (int k = 0; k < 3; k++) {
        if (p[k] == g[k]) {
            sm += 1.0;
            st += 1.0;
        } else if (g[k] > 0) {
            double x = 1.0 - (double)labs(p[k] - g[k]) / (double)g[k];
            sm += x > 0.0 ? x : 0.0;
        }
    }
    *smooth = sm / 3;
    *strict = st / 3;
}

static void jigsaw_scores(const int pred[9], const int truth[9], int n, double *smooth, double *strict)
{
    int where[10], error = 0, same = 1;
    for (int i = 0; i < n; i++) {
        where[pred[i]] = i;
        same &= pred[i] == truth[i];
    }
    if (same) {
        *smooth = *strict = 1.0;
        return;
    }
    for (int i = 0; i < n; i++)
        error += abs(where[truth[i]] - i);
    *smooth = 1.0 - (double)error / (double)(n * n / 2);
    *strict = 0.0;
}

/* --- the entry point ------------------------------------------------------------------------------------------ */

/* Whether `text` is an ASCII str; then its bytes and length. */
static int ascii_bytes(PyObject *text, const unsigned char **s, Py_ssize_t *n)
{
    if (!PyUnicode_Check(text))
        return 0;
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        PyErr_Clear();
        return 0;
    }
#endif
    if (!PyUnicode_IS_ASCII(text))
        return 0;
    *s = PyUnicode_1BYTE_DATA(text);
    *n = PyUnicode_GET_LENGTH(text);
    return 1;
}

static PyObject *result(double score, PyObject *format_ok, double strict, PyObject *task_id)
{
    PyObject *d = PyDict_New(), *v;
    if (d == NULL)
        return NULL;
    if ((v = PyFloat_FromDouble(score)) == NULL || PyDict_SetItem(d, KEY_SCORE, v) < 0)
        goto fail;
    Py_DECREF(v);
    if (PyDict_SetItem(d, KEY_FORMAT_OK, format_ok) < 0)
        goto fail_d;
    if ((v = PyFloat_FromDouble(strict)) == NULL || PyDict_SetItem(d, KEY_STRICT, v) < 0)
        goto fail;
    Py_DECREF(v);
    if (PyDict_SetItem(d, KEY_TASK_ID, task_id) < 0 || PyDict_SetItem(d, KEY_GOLD_OK, ONE) < 0)
        goto fail_d;
    return d;
fail:
    Py_XDECREF(v);
fail_d:
    Py_DECREF(d);
    return NULL;
}

/* Whether extra_info lets the fast path score the row: None, or a dict that is not a recipe row without its
   frames made (videossr.sample.made_without_dataset). -1 to leave the row to Python. */
static int plain_row(PyObject *extra_info, PyObject *made_key)
{
    if (extra_info == Py_None)
        return 1;
    if (!PyDict_CheckExact(extra_info))
        return -1;
    PyObject *recipe = PyDict_GetItemWithError(extra_info, KEY_RECIPE);
    if (recipe == NULL)
        return PyErr_Occurred() ? (PyErr_Clear(), -1) : 1;
    Py_INCREF(recipe);  /* held while its truth is asked (which may run Python code) */
    int has_recipe = PyObject_IsTrue(recipe);
    Py_DECREF(recipe);
    if (has_recipe < 0) {
        PyErr_Clear();
        return -1;
    }
    if (!has_recipe)
        return 1;
    PyObject *made = PyDict_GetItemWithError(extra_info, made_key);
    if (made == NULL) {
        if (PyErr_Occurred())
            PyErr_Clear();
        return -1;
    }
    Py_INCREF(made);
    int is_made = PyObject_IsTrue(made);
    Py_DECREF(made);
    if (is_made < 0)
        PyErr_Clear();
    return is_made == 1 ? 1 : -1;
}

static PyObject *float_pair(double a, double b)
{
    PyObject *x = PyFloat_FromDouble(a), *y = PyFloat_FromDouble(b), *t = NULL;
    if (x && y)
        t = PyTuple_Pack(2, x, y);
    Py_XDECREF(x);
    Py_XDECREF(y);
    return t;
}

static PyObject *int_tuple(const long *v, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t && i < n; i++) {
        PyObject *x = PyLong_FromLong(v[i]);
        if (x == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

PyDoc_STRVAR(score_doc,
"score(kinds, data_source, solution_str, ground_truth, extra_info, mode, made_key) -> dict | tuple | None\n\n"
"``kinds`` maps an exact data_source name to (kind, task_id as a float), kind 0 grounding, 1 counting, 2 jigsaw.\n"
"Returns the reward's result dict for an answer the fast path reads; the ground truth as the task parses it\n"
"(a tuple) when only the answer needs the general parser; None when Python must decide everything.");

static PyObject *score(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "score() takes 7 positional arguments");
        return NULL;
    }
    PyObject *kinds = args[0], *source = args[1], *text = args[2], *gold = args[3], *mode = args[5];
    const unsigned char *s, *g;
    Py_ssize_t n, gn, lo, hi;
    double value, strict;
    int is_strict;

    if (!configured || !PyDict_CheckExact(kinds) || !PyUnicode_Check(mode))
        Py_RETURN_NONE;
    if (PyUnicode_CompareWithASCIIString(mode, "smooth") == 0)
        is_strict = 0;
    else if (PyUnicode_CompareWithASCIIString(mode, "strict") == 0)
        is_strict = 1;
    else
        Py_RETURN_NONE;
    /* extra_info first: asking a value whether it is true may run Python code, which must not run while the
       borrowed entry of `kinds` below is in use */
    if (plain_row(args[4], args[6]) < 0)
        Py_RETURN_NONE;
    PyObject *entry = PyDict_GetItemWithError(kinds, source);
    if (entry == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2 || !PyLong_CheckExact(PyTuple_GET_ITEM(entry, 0)) ||
        !PyFloat_CheckExact(PyTuple_GET_ITEM(entry, 1)))
        Py_RETURN_NONE;
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(entry, 0));
    PyObject *task_id = PyTuple_GET_ITEM(entry, 1);
    if (kind == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (!ascii_bytes(gold, &g, &gn))
        Py_RETURN_NONE;
    /* an answer that is not ASCII text: only the ground truth is read here */
    int ascii = ascii_bytes(text, &s, &n), has_digit = 0;
    for (Py_ssize_t i = 0; ascii && i < n && !has_digit; i++)
        has_digit = IS_DIGIT(s[i]);

    if (kind == GROUNDING) {
        double g0, g1, p0, p1;
        if (!interval(g, 0, gn, 0, &g0, &g1) || !(g1 > g0))
            Py_RETURN_NONE;
        if (ascii && !has_digit)
            return result(0.0, ZERO, 0.0, task_id);
        if (!ascii || (unwrap(s, n, SPACE, &lo, &hi), !interval(s, lo, hi, 1, &p0, &p1)))
            return float_pair(g0, g1);
        grounding_scores(p0, p1, g0, g1, &value, &strict);
    } else if (kind == COUNTING) {
        long truth[3], pred[3];
        if (!counts(g, 0, gn, truth))
            Py_RETURN_NONE;
        if (ascii && !has_digit)
            return result(0.0, ZERO, 0.0, task_id);
        if (!ascii || (unwrap(s, n, WRAP, &lo, &hi), !counts(s, lo, hi, pred)))
            return int_tuple(truth, 3);
        counting_scores(pred, truth, &value, &strict);
    } else if (kind == JIGSAW) {
        int truth[9], pred[9], ok;
        long as_long[9];
        if (gn < 1 || gn > 9)
            Py_RETURN_NONE;
        for (Py_ssize_t i = 0; i < gn; i++)
            if (!IS_DIGIT(g[i]))  /* the ground truth is bare digits, never separated */
                Py_RETURN_NONE;
        if (!order(g, 0, gn, (int)gn, truth, &ok) || !ok)
            Py_RETURN_NONE;
        if (ascii && !has_digit)
            return result(0.0, ZERO, 0.0, task_id);
        if (!ascii || (unwrap(s, n, WRAP, &lo, &hi), !order(s, lo, hi, (int)gn, pred, &ok))) {
            for (int i = 0; i < gn; i++)
                as_long[i] = truth[i];
            return int_tuple(as_long, (int)gn);
        }
        if (!ok)
            return result(0.0, ZERO, 0.0, task_id);
        jigsaw_scores(pred, truth, (int)gn, &value, &strict);
    } else {
        Py_RETURN_NONE;
    }
    return result(is_strict ? strict : value, ONE, strict, task_id);
}

/* table[c] = 1 for each character of the ASCII str `chars`; 0 (with an exception set) otherwise. */
static int fill(unsigned char table[256], PyObject *chars)
{
    const unsigned char *s;
    Py_ssize_t n;
    if (!ascii_bytes(chars, &s, &n)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes two ASCII str");
        return 0;
    }
    memset(table, 0, 256);
    for (Py_ssize_t i = 0; i < n; i++)
        table[s[i]] = 1;
    return 1;
}

PyDoc_STRVAR(configure_doc,
"configure(wrap_chars, strip_chars) -> None\n\n"
"The characters stripped around counts and orders (answers.WRAP_CHARS) and around intervals (answers.STRIP_CHARS).\n"
"score() returns None until this is called.");

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *wrap, *space;
    if (!PyArg_ParseTuple(args, "UU:configure", &wrap, &space))
        return NULL;
    configured = 0;
    if (!fill(WRAP, wrap) || !fill(SPACE, space))
        return NULL;
    configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"score", (PyCFunction)(void (*)(void))score, METH_FASTCALL, score_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "videossr._speedups",
    "The reward's common case in C (see videossr/_speedups.c); videossr.rewards uses it when it is built.", -1,
    methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (!(KEY_SCORE = PyUnicode_InternFromString("score")) ||
        !(KEY_FORMAT_OK = PyUnicode_InternFromString("format_ok")) ||
        !(KEY_STRICT = PyUnicode_InternFromString("strict")) ||
        !(KEY_TASK_ID = PyUnicode_InternFromString("task_id")) ||
        !(KEY_GOLD_OK = PyUnicode_InternFromString("gold_ok")) ||
        !(KEY_RECIPE = PyUnicode_InternFromString("recipe")) || !(ZERO = PyFloat_FromDouble(0.0)) ||
        !(ONE = PyFloat_FromDouble(1.0)))
        return NULL;
    return PyModule_Create(&module);
}
