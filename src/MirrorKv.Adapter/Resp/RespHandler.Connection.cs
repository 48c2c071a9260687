using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using MirrorKv.Memory;

namespace MirrorKv.Adapter.Resp;

/// <summary>The connection commands: PING, HELLO, AUTH, QUIT, SELECT, CLIENT.</summary>
internal sealed partial class RespHandler
{
    private const string WrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

    // The secret and a password are compared as HMACs under a key of this process: in constant time, and
    // without telling a guesser the secret's length.
    private readonly byte[] _authKey = NewAuthKey();

    private static byte[] NewAuthKey()
    {
        var key = new byte[32];
        SecureRandom.Fill(key);
        return key;
    }

    private static void Ping(RespSession session, in RespRequest request)
    {
        if (request.Count > 2)
        {
            session.Output.Error("ERR wrong number of arguments for 'ping' command");
        }
        else if (request.Count == 2)
        {
            session.Output.Bulk(request[1]);
        }
        else
        {
            session.Output.Simple("PONG"u8);
        }
    }

    // HELLO [protover [AUTH username password] [SETNAME clientname]]
    private void Hello(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        bool resp3 = output.Resp3;
        int i = 1;
        if (request.Count > 1)
        {
            if (!RespNumbers.TryParse(request[1], out long version))
            {
                output.Error("ERR Protocol version is not an integer or out of range");
                return;
            }

            if (version is < 2 or > 3)
            {
                output.Error("NOPROTO unsupported protocol version");
                return;
            }

            resp3 = version == 3;
            i = 2;
        }

        bool authenticated = session.Authenticated;
        string? name = session.Name;
        for (; i < request.Count; i++)
        {
            if (RespNumbers.Is(request[i], "AUTH"u8) && i + 2 < request.Count)
            {
                if (!Authenticates(request[i + 1], request[i + 2], out string? error))
                {
                    output.Error(error!);
                    return;
                }

                authenticated = true;
                i += 2;
            }
            else if (RespNumbers.Is(request[i], "SETNAME"u8) && i + 1 < request.Count)
            {
                if (!TryClientName(request[++i], out name))
                {
                    output.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                    return;
                }
            }
            else
            {
                output.Error($"ERR Syntax error in HELLO option '{Printable(request[i], 64)}'");
                return;
            }
        }

        if (!authenticated)
        {
            output.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }

        session.Authenticated = true;
        session.Name = name;
        output.Resp3 = resp3;
        output.Map(7);
        output.Bulk("server"u8);
        output.Bulk("redis"u8);
        output.Bulk("version"u8);
        output.Bulk(RedisVersion);
        output.Bulk("proto"u8);
        output.Integer(resp3 ? 3 : 2);
        output.Bulk("id"u8);
        output.Integer(session.Id);
        output.Bulk("mode"u8);
        output.Bulk(!_sentinel && _node.Cluster is not null ? "cluster"u8 : "standalone"u8);
        output.Bulk("role"u8);
        output.Bulk(IsMaster ? "master"u8 : "replica"u8);
        output.Bulk("modules"u8);
        output.Array(0);
    }

    // AUTH password | AUTH username password
    private void Auth(RespSession session, in RespRequest request)
    {
        if (request.Count > 3)
        {
            session.Output.Error("ERR syntax error");
            return;
        }

        if (_node.Options.Secret is null && request.Count == 2)
        {
            // As redis: without a password, AUTH <password> is a mistake; AUTH default <anything> is accepted.
            session.Output.Error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
            return;
        }

        if (!Authenticates(request.Count == 3 ? request[1] : "default"u8, request[request.Count - 1], out string? error))
        {
            session.Output.Error(error!);
            return;
        }

        session.Authenticated = true;
        session.Output.Ok();
    }

    // The only user is "default", whose password is the node's client secret.
    private bool Authenticates(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password, out string? error)
    {
        error = null;
        byte[]? secret = _node.Options.Secret;
        if (secret is null)
        {
            // No secret: every connection is authenticated already, and any password does.
            return true;
        }

        Span<byte> offered = stackalloc byte[32];
        Span<byte> expected = stackalloc byte[32];
        HMACSHA256.HashData(_authKey, password, offered);
        HMACSHA256.HashData(_authKey, secret, expected);
        if (RespNumbers.Is(user, "DEFAULT"u8) && CryptographicOperations.FixedTimeEquals(offered, expected))
        {
            return true;
        }

        error = WrongPass;
        return false;
    }

    private static void Quit(RespSession session)
    {
        session.Output.Ok();
        session.Closing = true;
        session.Output.CloseAfterReplies();
    }

    private static void Select(RespSession session, in RespRequest request)
    {
        if (!RespNumbers.TryParse(request[1], out long index))
        {
            session.Output.Error(RespNumbers.NotAnInteger);
        }
        else if (index != 0)
        {
            session.Output.Error("ERR DB index is out of range");
        }
        else
        {
            session.Output.Ok();
        }
    }

    // CLIENT ID | GETNAME | SETNAME name | INFO | LIST | SETINFO LIB-NAME|LIB-VER value | NO-EVICT | NO-TOUCH
    private void Client(RespSession session, in RespRequest request)
    {
        RespOutput output = session.Output;
        ReadOnlySpan<byte> sub = request[1];
        if (RespNumbers.Is(sub, "ID"u8) && request.Count == 2)
        {
            output.Integer(session.Id);
        }
        else if (RespNumbers.Is(sub, "GETNAME"u8) && request.Count == 2)
        {
            if (session.Name is { } name)
            {
                output.Bulk(name);
            }
            else
            {
                output.Null();
            }
        }
        else if (RespNumbers.Is(sub, "SETNAME"u8) && request.Count == 3)
        {
            if (!TryClientName(request[2], out string? name))
            {
                output.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                return;
            }

            session.Name = name;
            output.Ok();
        }
        else if (RespNumbers.Is(sub, "INFO"u8) && request.Count == 2)
        {
            output.Verbatim(DescribeClient(session) + "\n");
        }
        else if (RespNumbers.Is(sub, "LIST"u8))
        {
            var text = new StringBuilder();
            foreach (RespSession other in _open.Values)
            {
                text.Append(DescribeClient(other)).Append('\n');
            }

            output.Verbatim(text.ToString());
        }
        else if (RespNumbers.Is(sub, "SETINFO"u8) && request.Count == 4)
        {
            string value = Printable(request[3], 128);
            if (RespNumbers.Is(request[2], "LIB-NAME"u8))
            {
                session.LibraryName = value;
            }
            else if (RespNumbers.Is(request[2], "LIB-VER"u8))
            {
                session.LibraryVersion = value;
            }
            else
            {
                output.Error($"ERR Unrecognized option '{Printable(request[2], 64)}'");
                return;
            }

            output.Ok();
        }
        else if ((RespNumbers.Is(sub, "NO-EVICT"u8) || RespNumbers.Is(sub, "NO-TOUCH"u8)) && request.Count == 3)
        {
            // Accepted and ignored: one-sided reads, which no connection setting reaches, mark access anyway, and a
            // connection is never evicted.
            output.Ok();
        }
        else
        {
            output.Error($"ERR unknown subcommand or wrong number of arguments for '{Printable(sub, 64)}'. Try CLIENT HELP.");
        }
    }

    private static bool TryClientName(ReadOnlySpan<byte> text, out string? name)
    {
        name = null;
        foreach (byte b in text)
        {
            if (b is < (byte)'!' or > (byte)'~')
            {
                return false;
            }
        }

        name = text.IsEmpty ? null : Encoding.ASCII.GetString(text);
        return true;
    }

    // One line of CLIENT LIST / CLIENT INFO, with redis's field names (the ones that mean something here).
    private string DescribeClient(RespSession session) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"id={session.Id} addr={session.Connection.RemoteEndPoint} laddr={_node.RespEndPoint} fd=-1 name={session.Name} "
        + $"age={(long)Stopwatch.GetElapsedTime(session.OpenedAt).TotalSeconds} idle={(long)Stopwatch.GetElapsedTime(session.LastCommandAt).TotalSeconds} "
        + $"flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 obl=0 oll=0 omem={session.Connection.QueuedBytes} events=r "
        + $"cmd={session.LastCommand} user=default redir=-1 resp={(session.Output.Resp3 ? 3 : 2)} lib-name={session.LibraryName} lib-ver={session.LibraryVersion}");
}
