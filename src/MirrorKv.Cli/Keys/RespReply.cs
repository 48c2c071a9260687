using System.Text;

namespace MirrorKv.Cli.Keys;

/// <summary>One RESP2 reply: a simple string (+), an error (-), an integer (:), a bulk string ($, null when absent) or an array (*).</summary>
internal sealed record RespReply(char Kind, byte[]? Bulk = null, long Integer = 0, IReadOnlyList<RespReply>? Items = null)
{
    public bool IsError => Kind == '-';

    public bool IsNull => Kind == '$' && Bulk is null;

    /// <summary>The text of a simple string, an error or a bulk string.</summary>
    public string Text => Bulk is null ? "" : Encoding.UTF8.GetString(Bulk);

    /// <summary>The error's code: its first word (READONLY, NOAUTH, WRONGPASS, LOADING, ERR).</summary>
    public string ErrorCode => IsError ? Text.Split(' ', 2)[0] : "";
}
