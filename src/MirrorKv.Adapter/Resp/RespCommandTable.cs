using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Text;

namespace MirrorKv.Adapter.Resp;

/// <summary>
/// The commands by name. A name of at most 8 bytes (every data command's but PEXPIREAT and INCRBYFLOAT) is looked up as one 64-bit
/// number (its bytes upper-cased): no string is made per command. The longer names are compared apart.
/// </summary>
internal static class RespCommandTable
{
    private static readonly string[] ReadFast = ["readonly", "fast"];
    private static readonly string[] WriteFast = ["write", "fast"];
    private static readonly string[] WriteDenyOom = ["write", "denyoom"];
    private static readonly string[] WriteDenyOomFast = ["write", "denyoom", "fast"];
    private static readonly string[] Connection = ["noscript", "loading", "stale", "fast"];
    private static readonly string[] NoAuth = ["noscript", "loading", "stale", "fast", "no-auth"];
    private static readonly string[] Admin = ["admin", "noscript", "loading", "stale"];

    /// <summary>Every command, in the order COMMAND lists them.</summary>
    public static IReadOnlyList<RespCommandInfo> All { get; } =
    [
        new(RespCommandKind.Ping, "ping", -1, RespCommandAccess.None, ["fast", "stale"], 0, 0, 0, "connection", "Returns PONG, or the argument."),
        new(RespCommandKind.Echo, "echo", 2, RespCommandAccess.None, ["fast"], 0, 0, 0, "connection", "Returns the argument."),
        new(RespCommandKind.Hello, "hello", -1, RespCommandAccess.None, NoAuth, 0, 0, 0, "connection", "Handshake: protocol version (2 or 3), authentication and client name."),
        new(RespCommandKind.Auth, "auth", -2, RespCommandAccess.None, NoAuth, 0, 0, 0, "connection", "Authenticates with the node's secret (user: default)."),
        new(RespCommandKind.Quit, "quit", -1, RespCommandAccess.None, NoAuth, 0, 0, 0, "connection", "Closes the connection."),
        new(RespCommandKind.Select, "select", 2, RespCommandAccess.None, Connection, 0, 0, 0, "connection", "Selects database 0, the only one."),
        new(RespCommandKind.Get, "get", 2, RespCommandAccess.Read, ReadFast, 1, 1, 1, "string", "Returns the value of a key."),
        new(RespCommandKind.Set, "set", -3, RespCommandAccess.Write, WriteDenyOom, 1, 1, 1, "string", "Sets a key's value, with NX, XX, GET, EX, PX, EXAT, PXAT or KEEPTTL."),
        new(RespCommandKind.SetEx, "setex", 4, RespCommandAccess.Write, WriteDenyOom, 1, 1, 1, "string", "Sets a key's value and time to live in seconds."),
        new(RespCommandKind.PSetEx, "psetex", 4, RespCommandAccess.Write, WriteDenyOom, 1, 1, 1, "string", "Sets a key's value and time to live in milliseconds."),
        new(RespCommandKind.SetNx, "setnx", 3, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Sets a key's value only if it does not exist; 1 when it was set."),
        new(RespCommandKind.GetSet, "getset", 3, RespCommandAccess.Write, WriteDenyOom, 1, 1, 1, "string", "Sets a key's value and returns the one it had (as SET key value GET)."),
        new(RespCommandKind.GetDel, "getdel", 2, RespCommandAccess.Write, WriteFast, 1, 1, 1, "string", "Returns a key's value and deletes the key."),
        new(RespCommandKind.GetEx, "getex", -2, RespCommandAccess.Write, WriteFast, 1, 1, 1, "string", "Returns a key's value and sets its time to live (EX, PX, EXAT, PXAT) or removes it (PERSIST)."),
        new(RespCommandKind.Del, "del", -2, RespCommandAccess.Write, ["write"], 1, -1, 1, "generic", "Deletes keys; returns how many existed."),
        new(RespCommandKind.Unlink, "unlink", -2, RespCommandAccess.Write, WriteFast, 1, -1, 1, "generic", "Deletes keys (as DEL)."),
        new(RespCommandKind.Exists, "exists", -2, RespCommandAccess.Read, ReadFast, 1, -1, 1, "generic", "Counts the keys that exist."),
        new(RespCommandKind.Expire, "expire", -3, RespCommandAccess.Write, WriteFast, 1, 1, 1, "generic", "Sets a key's time to live in seconds (NX, XX, GT, LT)."),
        new(RespCommandKind.PExpire, "pexpire", -3, RespCommandAccess.Write, WriteFast, 1, 1, 1, "generic", "Sets a key's time to live in milliseconds (NX, XX, GT, LT)."),
        new(RespCommandKind.ExpireAt, "expireat", -3, RespCommandAccess.Write, WriteFast, 1, 1, 1, "generic", "Sets the Unix time in seconds at which a key stops existing (NX, XX, GT, LT)."),
        new(RespCommandKind.PExpireAt, "pexpireat", -3, RespCommandAccess.Write, WriteFast, 1, 1, 1, "generic", "Sets the Unix time in milliseconds at which a key stops existing (NX, XX, GT, LT)."),
        new(RespCommandKind.Persist, "persist", 2, RespCommandAccess.Write, WriteFast, 1, 1, 1, "generic", "Removes a key's time to live."),
        new(RespCommandKind.Ttl, "ttl", 2, RespCommandAccess.Read, ReadFast, 1, 1, 1, "generic", "Returns a key's time to live in seconds."),
        new(RespCommandKind.PTtl, "pttl", 2, RespCommandAccess.Read, ReadFast, 1, 1, 1, "generic", "Returns a key's time to live in milliseconds."),
        new(RespCommandKind.MGet, "mget", -2, RespCommandAccess.Read, ReadFast, 1, -1, 1, "string", "Returns the values of keys."),
        new(RespCommandKind.MSet, "mset", -3, RespCommandAccess.Write, WriteDenyOom, 1, -1, 2, "string", "Sets several keys (one write each, not atomic)."),
        new(RespCommandKind.Incr, "incr", 2, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Adds 1 to a key's integer value."),
        new(RespCommandKind.Decr, "decr", 2, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Subtracts 1 from a key's integer value."),
        new(RespCommandKind.IncrBy, "incrby", 3, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Adds an integer to a key's integer value."),
        new(RespCommandKind.DecrBy, "decrby", 3, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Subtracts an integer from a key's integer value."),
        new(RespCommandKind.IncrByFloat, "incrbyfloat", 3, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Adds a decimal number to a key's numeric value."),
        new(RespCommandKind.Append, "append", 3, RespCommandAccess.Write, WriteDenyOomFast, 1, 1, 1, "string", "Appends bytes to a key's value; returns its new length."),
        new(RespCommandKind.SetRange, "setrange", 4, RespCommandAccess.Write, WriteDenyOom, 1, 1, 1, "string", "Overwrites part of a key's value at an offset; returns its new length."),
        new(RespCommandKind.GetRange, "getrange", 4, RespCommandAccess.Read, ["readonly"], 1, 1, 1, "string", "Returns part of a key's value, from start to end (inclusive; negative counts from the end)."),
        new(RespCommandKind.GetRange, "substr", 4, RespCommandAccess.Read, ["readonly"], 1, 1, 1, "string", "Returns part of a key's value (the old name of GETRANGE)."),
        new(RespCommandKind.StrLen, "strlen", 2, RespCommandAccess.Read, ReadFast, 1, 1, 1, "string", "Returns the length of a key's value."),
        new(RespCommandKind.Type, "type", 2, RespCommandAccess.Read, ReadFast, 1, 1, 1, "generic", "Returns string, or none for a missing key."),
        new(RespCommandKind.Touch, "touch", -2, RespCommandAccess.Read, ReadFast, 1, -1, 1, "generic", "Counts the keys that exist (as EXISTS; reads keep no access time to update)."),
        new(RespCommandKind.Time, "time", 1, RespCommandAccess.None, ["loading", "stale", "fast"], 0, 0, 0, "server", "Returns the node's clock: Unix seconds and microseconds."),
        new(RespCommandKind.DbSize, "dbsize", 1, RespCommandAccess.Read, ReadFast, 0, 0, 0, "server", "Returns the number of keys."),
        new(RespCommandKind.Scan, "scan", -2, RespCommandAccess.Read, ["readonly"], 0, 0, 0, "generic", "Iterates over the keys (MATCH, COUNT, TYPE)."),
        new(RespCommandKind.Keys, "keys", 2, RespCommandAccess.Read, ["readonly"], 0, 0, 0, "generic", "Returns every key that matches a pattern (walks the whole store in turns; SCAN is kinder to a large one)."),
        new(RespCommandKind.FlushDb, "flushdb", -1, RespCommandAccess.Write, ["write"], 0, 0, 0, "server", "Deletes every key."),
        new(RespCommandKind.FlushDb, "flushall", -1, RespCommandAccess.Write, ["write"], 0, 0, 0, "server", "Deletes every key (as FLUSHDB: database 0 is the only one)."),
        new(RespCommandKind.Info, "info", -1, RespCommandAccess.None, ["loading", "stale"], 0, 0, 0, "server", "Returns information and statistics about the node."),
        new(RespCommandKind.Role, "role", 1, RespCommandAccess.None, Connection, 0, 0, 0, "server", "Returns the node's replication role."),
        new(RespCommandKind.Client, "client", -2, RespCommandAccess.None, ["noscript", "loading", "stale"], 0, 0, 0, "connection", "SETNAME, GETNAME, ID, INFO, LIST, SETINFO."),
        new(RespCommandKind.Command, "command", -1, RespCommandAccess.None, ["loading", "stale"], 0, 0, 0, "server", "Describes the commands (COUNT, INFO, DOCS, LIST)."),
        new(RespCommandKind.Config, "config", -2, RespCommandAccess.None, Admin, 0, 0, 0, "server", "CONFIG GET of the settings clients ask for."),
        new(RespCommandKind.Sentinel, "sentinel", -2, RespCommandAccess.None, ["admin", "loading", "stale"], 0, 0, 0, "sentinel", "Sentinel discovery: the pair's primary, replica and other sentinel (GET-MASTER-ADDR-BY-NAME, MASTER, MASTERS, REPLICAS, SENTINELS)."),
        new(RespCommandKind.Cluster, "cluster", -2, RespCommandAccess.None, ["loading", "stale"], 0, 0, 0, "cluster", "Cluster topology for redis clients: INFO, MYID, KEYSLOT, SLOTS, SHARDS, NODES."),
        new(RespCommandKind.Subscribe, "subscribe", -2, RespCommandAccess.None, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0, "pubsub", "Sentinel port: listens for +switch-master and other channels."),
        new(RespCommandKind.PSubscribe, "psubscribe", -2, RespCommandAccess.None, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0, "pubsub", "Sentinel port: listens for channels matching glob patterns."),
        new(RespCommandKind.Unsubscribe, "unsubscribe", -1, RespCommandAccess.None, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0, "pubsub", "Sentinel port: stops listening to channels (all without arguments)."),
        new(RespCommandKind.PUnsubscribe, "punsubscribe", -1, RespCommandAccess.None, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0, "pubsub", "Sentinel port: stops listening to patterns (all without arguments)."),
    ];

    private static readonly FrozenDictionary<ulong, RespCommandInfo> ByName = All.Where(c => c.Name.Length <= 8).ToFrozenDictionary(c => Pack(Encoding.ASCII.GetBytes(c.Name)));

    // The few names over 8 bytes (PEXPIREAT, INCRBYFLOAT, and pub/sub on the sentinel port), compared one by one: rare, and still no string made.
    private static readonly (byte[] Name, RespCommandInfo Info)[] LongNames = [.. All.Where(c => c.Name.Length > 8).Select(c => (Encoding.ASCII.GetBytes(c.Name), c))];

    /// <summary>The command named <paramref name="name"/> (any case), or null.</summary>
    public static RespCommandInfo? Find(ReadOnlySpan<byte> name)
    {
        if (name.Length is > 0 and <= 8)
        {
            return ByName.TryGetValue(Pack(name), out RespCommandInfo? info) && info.Name.Length == name.Length ? info : null;
        }

        foreach ((byte[] known, RespCommandInfo info) in LongNames)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(name, known))
            {
                return info;
            }
        }

        return null;
    }

    // The name's bytes, upper-cased ASCII letters, little-endian in a 64-bit number (zero padded: so Find
    // also compares the length, or "GET" and "GET\0" would be one name).
    private static ulong Pack(ReadOnlySpan<byte> name)
    {
        Span<byte> packed = stackalloc byte[8];
        packed.Clear();
        for (int i = 0; i < name.Length; i++)
        {
            byte b = name[i];
            packed[i] = b is >= (byte)'a' and <= (byte)'z' ? (byte)(b - 32) : b;
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(packed);
    }
}
