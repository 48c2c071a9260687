using System.Text;

namespace MirrorKv.Fuzz;

/// <summary>The RESP corpus's seeds: what clients send, in RESP arrays and inline, one stream each.</summary>
public static class RespSeeds
{
    public static IEnumerable<(string Name, byte[] Stream)> All()
    {
        yield return ("set-ex-nx-get", Array("SET", "session:42", "value", "EX", "60", "NX", "GET"));
        yield return ("get", Array("GET", "session:42"));
        yield return ("mget", Array("MGET", "a", "b", "{tag}c"));
        yield return ("mset-pipeline", [.. Array("MSET", "a", "1", "b", "2"), .. Array("INCRBY", "a", "-9223372036854775808"), .. Array("PEXPIRE", "a", "1500", "GT")]);
        yield return ("scan-match", Array("SCAN", "0", "MATCH", "user:[a-z]*\\*?", "COUNT", "100"));
        yield return ("hello-auth", Array("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "app"));
        yield return ("inline", Encoding.ASCII.GetBytes("PING\r\nSET k \"v w\"\r\n\r\nGET k\n"));
        yield return ("subscribe", Array("SUBSCRIBE", "+switch-master", "+sdown"));
        yield return ("empty-and-null", Encoding.ASCII.GetBytes("*0\r\n*-1\r\n*1\r\n$0\r\n\r\n"));
        yield return ("binary-value", [.. "*3\r\n$3\r\nSET\r\n$3\r\nbin\r\n$4\r\n"u8.ToArray(), 0x00, 0x0d, 0x0a, 0xff, .. "\r\n"u8.ToArray()]);
    }

    private static byte[] Array(params string[] arguments)
    {
        var text = new StringBuilder($"*{arguments.Length}\r\n");
        foreach (string argument in arguments)
        {
            text.Append($"${Encoding.UTF8.GetByteCount(argument)}\r\n{argument}\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
