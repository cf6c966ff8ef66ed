-- moonlab/size.h: the overflow-checked size helpers every size computation goes through (issue #13
-- item 5), checked in C against 128-bit arithmetic over edge values (spec/c/size_test.c).
local root = os.getenv("MOONLAB_ROOT") or "."
local build = os.getenv("MOONLAB_BUILD") or (root .. "/build")

describe("ml_size_mul / ml_size_add / ml_alloc_array", function()
  it("agree with 128-bit arithmetic and refuse wrapped or capped sizes with a message", function()
    local exe = os.tmpname()
    local san = os.getenv("MOONLAB_ASAN") and "-fsanitize=address,undefined " or "" -- build-asan's library needs it
    local p = io.popen(("cc -std=c11 -O1 " .. san .. "-I%s/csrc/include %s/spec/c/size_test.c %s/libmoonlab.a -fopenmp "
      .. "-lopenblas -lfftw3 -lquadmath -lm -o %s 2>&1 && env -u LD_PRELOAD %s 2>&1"):format(root, root, build, exe, exe))
    local out = p:read("a")
    local ok = p:close()
    os.remove(exe)
    assert.is_true(ok, out)
    assert.matches("size: %d+ checks, 0 failures", out)
  end)
end)
