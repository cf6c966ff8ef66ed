-- Shared by the store and sweep specs: a fresh database path, and its removal with WAL files and tensor folder.
local U = {}

function U.tmpdb()
  local d = os.tmpname()
  os.remove(d)
  return d .. ".db"
end

function U.cleanup(db)
  for _, s in ipairs { "", "-wal", "-shm" } do os.remove(db .. s) end
  os.execute("rm -rf '" .. db .. ".files'")
end

return U
