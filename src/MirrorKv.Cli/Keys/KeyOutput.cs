namespace MirrorKv.Cli.Keys;

/// <summary>How the operator commands print what they read.</summary>
internal static class KeyOutput
{
    /// <summary>A value's bytes as stored, then a newline, so that <c>$(mirrorkv get ...)</c> gives the value back.</summary>
    public static async Task WriteValueAsync(byte[] value)
    {
        await Console.Out.FlushAsync();
        await using Stream stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(value);
        stdout.WriteByte((byte)'\n');
        await stdout.FlushAsync();
    }
}
