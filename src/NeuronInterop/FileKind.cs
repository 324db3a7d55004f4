using System.Runtime.InteropServices;
using System.Text;

namespace NeuronInterop;

/// <summary>
/// What a path names, where a regular file and a device, a named pipe or a socket must be told apart: a file that
/// is replaced by renaming a new one over it would put a regular file in place of <c>/dev/null</c> (as root), and a
/// named pipe opened only to check it would wait for a reader. .NET does not tell these apart.
/// </summary>
internal static partial class FileKind
{
    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a device, a named pipe or a socket.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSpecial(string path) => Type(path) is { } type && type != RegularFile && type != Folder;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a named pipe (FIFO).</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsNamedPipe(string path) => Type(path) == NamedPipe;

    /// <summary>Whether <paramref name="path"/> (through symbolic links) is a socket, which cannot be opened as a file.</summary>
    /// <remarks>False where that cannot be told: a missing path, and systems other than Linux.</remarks>
    public static bool IsSocket(string path) => Type(path) == Socket;

    // The type bits of st_mode (S_IFMT) and four of their values (S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK).
    private const int TypeBits = 0xF000, RegularFile = 0x8000, Folder = 0x4000, NamedPipe = 0x1000, Socket = 0xC000;

    private static int? Type(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        // struct statx has one layout on every Linux architecture: stx_mode is the 16 bits at offset 28.
        const int currentFolder = -100;  // AT_FDCWD
        const uint typeOnly = 0x1;  // STATX_TYPE
        var status = new byte[256];
        try
        {
            return Statx(currentFolder, path, 0, typeOnly, status) == 0 ? BitConverter.ToUInt16(status, 28) & TypeBits : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;  // a C library without statx (glibc before 2.28)
        }
    }

    /// <summary>
    /// The absolute path, without symbolic links, that the system reaches for <paramref name="path"/> (an existing
    /// folder or file), or null where that cannot be told: a missing path, and systems other than Linux. Unlike
    /// <see cref="Path.GetFullPath(string)"/>, which takes "folder/.." away by text, it goes up from where a link to
    /// "folder" leads.
    /// </summary>
    public static string? RealPath(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        // Into a buffer of PATH_MAX bytes of our own: a path the C library allocated would have to be freed by the C
        // library's free, and "libc" as loaded here is not the free that a preloaded allocator (a sanitizer) put in place.
        const int maxPath = 4096;  // PATH_MAX
        var real = new byte[maxPath];
        try
        {
            return Realpath(path, real) == IntPtr.Zero ? null : Encoding.UTF8.GetString(real, 0, Array.IndexOf(real, (byte)0));
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int folder, string path, int flags, uint mask, byte[] status);

    [LibraryImport("libc", EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr Realpath(string path, [Out] byte[] resolved);
}
