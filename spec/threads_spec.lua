-- docs/moonlab.md "Thread safety": separate Lua states in separate OS threads give results equal to a
-- single-threaded run (attention, BLAS, a Laplace inversion with a Lua callback, an error message).
local root = os.getenv("MOONLAB_ROOT") or "."

describe("separate Lua states in separate threads", function()
  it("compute the same results as one state alone", function()
    local exe = os.tmpname()
    local san = os.getenv("MOONLAB_ASAN") and "-fsanitize=address,undefined " or ""
    local p = io.popen(("cc -std=c11 -O1 %s-I/usr/include/lua5.4 %s/spec/c/threads_test.c -llua5.4 -lpthread -lm -o %s 2>&1 "
      .. "&& %s 2>&1"):format(san, root, exe, exe))
    local out = p:read("a")
    local ok = p:close()
    os.remove(exe)
    assert.is_true(ok, out)
    assert.matches("single: [-%d.e]+ [-%d.e]+ [-%d.e]+ [-%d.e]+ tensor.zeros: bad argument", out)
    assert.matches("threads: 6 states in 2 threads, 0 differ from the single-threaded run", out, 1, true)
  end)
end)
